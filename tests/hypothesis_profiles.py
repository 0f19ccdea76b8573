"""Hypothesis profiles. `long` (pytest --hypothesis-profile=long) runs the lifecycle model
(tests/domain/test_lifecycle_model.py) for 10,000 sequences; by default it runs 500, set on
that test itself, so the default profile leaves every other property test as it was."""
from __future__ import annotations

from hypothesis import settings

LIFECYCLE_MODEL_EXAMPLES = 500

settings.register_profile("long", max_examples=10_000, deadline=None)
