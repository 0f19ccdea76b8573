"""workers.state.ObservedTable: every write is observed with the value the store held before it,
and the observer's follow-up runs after the write (a plain dict stands in for the Faust table)."""
from workers.state import ObservedTable, dumps


class FakeTable(dict):
    @property
    def data(self):          # Faust: the store under the table
        return self


def test_the_observer_sees_what_the_store_held_even_when_it_changed_underneath():
    """Values under the `command_seen` state schema (plain strings): the observer stamps each write."""
    seen, table = [], FakeTable()

    def observe(key, before, after):
        seen.append((key, before, after))
        return f"{after}#{len(seen)}", lambda: seen.append(("sent", key, table_view[key]))

    observed = ObservedTable(table, observe, name="command_seen")
    table_view = observed
    observed[b"k"] = "n1"
    assert seen[-2:] == [(b"k", None, "n1"), ("sent", b"k", "n1#1")]      # sent after the write
    record = observed.get(b"k")
    observed[b"k"] = record + "+n2"
    assert seen[-2][1] == "n1#1"
    observed.get(b"k")
    table[b"k"] = dumps("n9", "command_seen")          # a changelog recovery writes the store directly
    observed[b"k"] = "n10"
    assert seen[-2][1] == "n9", "the memo of the last read must not hide what the store holds"
    assert observed[b"k"] == "n10#5"
