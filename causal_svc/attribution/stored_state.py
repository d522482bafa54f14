"""Reading a fitted model's state that an older build stored.

A stored attribution analysis keeps its :class:`.fit.FitState` pickled, to answer counterfactuals
without refitting. Its dataclasses gain fields over releases, and a slots dataclass unpickles
only the fields it was stored with (by position): the newer ones are left unset, and the first
read of one — or the pickling that sends the state to a compute worker — raises
AttributeError, which reached the caller as INTERNAL (s19 R39 F1: ``MediaPanel.warnings``).
:func:`load_state` therefore repairs every dataclass in the state the same way: a field
the stored object lacks gets its declared default. New fields must go last and have a default
whose meaning is "as before"; a state that still cannot be read is refused with
:class:`StoredStateOutdated` (FAILED_PRECONDITION, reason MODEL_STATE_OUTDATED) naming the way
out: analyse again.

Because the values are matched to fields by position, a field once inserted before others
(155917f put MediaPanel's two unreported shares before ``outcome_name``) makes every older
pickle load shifted: each value lands in its neighbour's field and nothing fails. The stored
bytes carry no field names to map by, so every field's value is checked against its declared
type (:func:`_conforms`, shallow: the container and, for a ``tuple[X, ...]``, its items); a
value of the wrong kind is a layout this build cannot map, refused like the rest (s19 V2-F6).
"""

from __future__ import annotations

import pickle
import sys
import types
import typing
import zlib
from collections.abc import Mapping
from dataclasses import MISSING, Field, fields, is_dataclass
from functools import cache
from typing import Any, TypeVar

import numpy as np

from causal_svc.errors import StoredStateOutdated

__all__ = ["StoredStateOutdated", "fill_missing_fields", "load_state"]

_T = TypeVar("_T")
_REANALYSE = "re-run analyze: this analysis was stored by an older LiftOS"


def load_state(blob: bytes, kind: type[_T]) -> _T:
    """The ``kind`` object :func:`.fit.state_to_bytes` stored, by this build or an older one:
    fields added since it was stored get their defaults.

    Raises
    ------
    StoredStateOutdated
        The bytes do not unpickle with this build's classes, hold no ``kind``, or lack a field
        added since that has no default to give it.
    """
    try:
        state = pickle.loads(zlib.decompress(blob))
    # What unpickling another build's bytes can raise: a class or module since renamed
    # (AttributeError, ImportError), a constructor whose arguments changed (TypeError), bytes
    # cut short or not ours (zlib.error, UnpicklingError, EOFError, ValueError).
    except (zlib.error, pickle.UnpicklingError, EOFError, AttributeError, ImportError,
            TypeError, ValueError, IndexError, KeyError) as exc:  # fmt: skip
        raise StoredStateOutdated(
            f"{_REANALYSE}, and its model does not read in this version "
            f"({type(exc).__name__}: {exc}); analyse the same window again to ask it "
            "counterfactuals",
            subject="analysis_id",
        ) from exc
    if not isinstance(state, kind):
        raise StoredStateOutdated(
            f"{_REANALYSE}: its stored model is a {type(state).__name__}, not a "
            f"{kind.__name__}; analyse the same window again to ask it counterfactuals",
            subject="analysis_id",
        )
    fill_missing_fields(state)
    return state


def fill_missing_fields(root: object) -> None:
    """Give every dataclass reachable from ``root`` (through dataclass fields, tuples, lists
    and mappings) the declared default of each field it lacks, in place (the objects were
    just unpickled and are not shared).

    Raises
    ------
    StoredStateOutdated
        A missing field has no default, or a field holds a value of another type than it
        declares (an older layout whose fields were in another order).
    """
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, np.ndarray | str | bytes):
            continue
        seen.add(id(obj))
        if is_dataclass(obj) and not isinstance(obj, type):
            for f in fields(obj):
                try:
                    value = getattr(obj, f.name)
                except AttributeError:
                    value = _default(type(obj), f)
                    # object.__setattr__: frozen dataclasses refuse their own setattr.
                    object.__setattr__(obj, f.name, value)
                hint = _hints(type(obj)).get(f.name, Any)
                if not _conforms(value, hint):
                    raise StoredStateOutdated(
                        f"{_REANALYSE} with its fields in another order: its "
                        f"{type(obj).__name__}.{f.name} holds a {type(value).__name__} where "
                        f"this version keeps a {_name(hint)}; analyse the same window again "
                        "to ask it counterfactuals",
                        subject="analysis_id",
                    )
                stack.append(value)
        elif isinstance(obj, tuple | list | set | frozenset):
            stack.extend(obj)
        elif isinstance(obj, Mapping):
            stack.extend(obj.values())


def _default(cls: type, f: Field[Any]) -> object:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    raise StoredStateOutdated(
        f"{_REANALYSE}: its {cls.__name__} has no {f.name!r}, which this version needs and "
        "cannot default; analyse the same window again to ask it counterfactuals",
        subject="analysis_id",
    )


@cache
def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))
    except (NameError, TypeError):  # an annotation this runtime cannot resolve: not judged
        return {}


def _conforms(value: object, hint: Any) -> bool:
    """Whether ``value`` is of the kind ``hint`` declares, shallowly; what it cannot judge
    (Any, a TypeVar, a Literal, a callable) passes."""
    origin = typing.get_origin(hint)
    if hint is Any or isinstance(hint, TypeVar):
        return True
    if hint is None or hint is type(None):
        return value is None
    if origin is typing.Union or origin is types.UnionType:
        return any(_conforms(value, arm) for arm in typing.get_args(hint))
    if hint is float:
        # the annotation float admits ints; numpy scalars come from reductions
        return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
            value, bool
        )
    if hint is int:
        return isinstance(value, int | np.integer) and not isinstance(value, bool)
    if hint is bool:
        return isinstance(value, bool | np.bool_)
    if isinstance(hint, type):
        return isinstance(value, hint)
    if isinstance(origin, type):
        if not isinstance(value, origin):
            return False
        args = typing.get_args(hint)
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return all(_conforms(item, args[0]) for item in value)  # type: ignore[attr-defined]
        return True
    return True


def _name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint)
