from hypothesis import given, strategies as st

from ops.verdict import GroupStatus, PartitionStatus, Sample, group_status, partition_status

N = 4


def w(*pairs):
    return [Sample(c, lag) for c, lag in pairs]


def test_rules_on_full_windows():
    assert partition_status(w((10, 0), (10, 0), (10, 0), (10, 0)), True, N) is PartitionStatus.OK
    assert partition_status(w((1, 5), (5, 6), (9, 8), (12, 9)), True, N) is PartitionStatus.WARN     # behind, moving
    assert partition_status(w((1, 9), (5, 6), (9, 8), (12, 5)), True, N) is PartitionStatus.OK       # catching up
    assert partition_status(w((7, 3), (7, 3), (7, 4), (7, 9)), True, N) is PartitionStatus.STALL
    assert partition_status(w((7, 3), (7, 3), (7, 4), (7, 9)), False, N) is PartitionStatus.STOP


def test_short_windows_never_worse_than_warn():
    assert partition_status(w((7, 3)), False, N) is PartitionStatus.OK
    assert partition_status(w((7, 3), (7, 3)), False, N) is PartitionStatus.WARN


def test_group_is_the_worst_partition():
    assert group_status([PartitionStatus.OK, PartitionStatus.WARN]) is GroupStatus.WARN
    assert group_status([PartitionStatus.WARN, PartitionStatus.STOP]) is GroupStatus.ERR
    assert group_status([]) is GroupStatus.OK


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=8), st.booleans())
def test_zero_latest_lag_is_always_ok_and_moving_offsets_never_err(pairs, present):
    window = [Sample(c, lag) for c, lag in pairs]
    status = partition_status(window, present, N)
    if window[-1].lag == 0:
        assert status is PartitionStatus.OK
    if len({s.committed for s in window}) > 1:
        assert status in (PartitionStatus.OK, PartitionStatus.WARN)
