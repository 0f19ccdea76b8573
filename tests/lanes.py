"""A test lane that needs a system package (PostgreSQL, Chromium): when the package is missing the
lane skips loudly (a warning and a printed line), and fails instead where CI requires it."""
from __future__ import annotations

import warnings

import pytest


def missing(reason: str, required: bool, flag: str) -> None:
    """Fail (when `required`, i.e. the environment variable `flag` is set) or skip, saying `reason`."""
    if required:
        pytest.fail(f"{flag}=1: {reason}")
    warnings.warn(reason)
    print(f"\n*** SKIPPED: {reason} ***")
    pytest.skip(reason)
