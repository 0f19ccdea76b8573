"""The ops API's body bounds against an independent reference: the depth of the parsed value."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ops.api.bodies import BodyError, nesting_depth_exceeds, parse_json

scalars = st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:', max_size=8)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                                          max_size=3), max_leaves=30)


def depth(value) -> int:
    """How many arrays/objects deep a parsed value goes (the reference)."""
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=400, deadline=None)
@given(value=values, limit=st.integers(min_value=0, max_value=6))
def test_depth_check_agrees_with_the_parsed_value(value, limit):
    assert nesting_depth_exceeds(json.dumps(value), limit) == (depth(value) > limit)


def test_bounds_are_4xx():
    assert parse_json(b'{"a": [1, {"b": "[[[["}]}', 100, 3) == {"a": [1, {"b": "[[[["}]}
    for raw, limit, status in ((b"[" * 100_000 + b"]" * 100_000, 10**6, 400), (b"x" * 101, 100, 413),
                               (b"{nope", 100, 400), (b"\xff", 100, 400)):
        with pytest.raises(BodyError) as caught:
            parse_json(raw, limit, 16)
        assert caught.value.status == status
    assert parse_json(b"  ", 100, 16) is None
