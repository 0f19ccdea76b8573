"""Faster pickling for frozen, slotted dataclasses.

The workers keep domain objects in Faust tables as pickles and (un)pickle a placement's
whole ledger on every event. The standard library's state functions for slotted
dataclasses call `dataclasses.fields()` on every object (about a third of the worker's
pickling time in bench/ingest.py's profile); these precompute the field names once.
The state format is unchanged (the field values in order), so existing pickles load.
"""
from __future__ import annotations

import dataclasses
import operator
from typing import Iterable

_set = object.__setattr__


def speed_up(classes: Iterable[type]) -> None:
    for cls in classes:
        fields = dataclasses.fields(cls)
        names = tuple(f.name for f in fields)
        # a pickle made before a field was added (at the end, with a default) lacks it
        defaults = tuple(f.default for f in fields)
        getter = operator.attrgetter(*names)          # C speed; a tuple when there are several names
        if len(names) == 1:
            def getstate(self, _g=getter):
                return (_g(self),)
        else:
            def getstate(self, _g=getter):
                return _g(self)

        def setstate(self, state, _names=names, _defaults=defaults):
            for name, value in zip(_names, state):
                _set(self, name, value)
            for name, default in zip(_names[len(state):], _defaults[len(state):]):
                if default is not dataclasses.MISSING:
                    _set(self, name, default)

        cls.__getstate__ = getstate
        cls.__setstate__ = setstate


def speed_up_module(module_name: str, namespace: dict) -> None:
    """Every slotted dataclass defined in the module: `speed_up_module(__name__, globals())`."""
    speed_up(obj for obj in namespace.values()
             if isinstance(obj, type) and obj.__module__ == module_name and dataclasses.is_dataclass(obj)
             and "__slots__" in obj.__dict__)
