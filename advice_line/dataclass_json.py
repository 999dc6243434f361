"""Frozen dataclasses to JSON and back, driven by their type hints.

The routing engine stores the pure core's ``Consultation`` as JSON in PostgreSQL. Supported
field types: str, int, float, bool, None, datetime (ISO 8601 with offset), enums (by value),
tuple[X, ...], frozenset[X], Mapping/dict[str, X], nested dataclasses, and unions with None.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def to_json(value: Any) -> Any:
    """A JSON-ready form of ``value`` (frozensets come out sorted, for stable storage)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(to_json(v) for v in value)
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    return value


def from_json(kind: type[T], data: Any) -> T:
    """Rebuild a ``kind`` (a dataclass) from :func:`to_json` output."""
    return typing.cast(T, _build(kind, data))


def _build(kind: Any, data: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        if data is None:
            return None
        assert len(options) == 1, f"unsupported union {kind}"
        return _build(options[0], data)
    if dataclasses.is_dataclass(kind):
        hints = _hints(typing.cast(Any, kind))
        values = {f.name: _build(hints[f.name], data[f.name])
                  for f in dataclasses.fields(kind) if f.name in data}  # fmt: skip
        return typing.cast(Any, kind)(**values)
    if origin in (tuple,):
        args = typing.get_args(kind)
        return tuple(_build(args[0], v) for v in data)
    if origin in (frozenset, set):
        (arg,) = typing.get_args(kind)
        return frozenset(_build(arg, v) for v in data)
    if origin in (dict, Mapping, typing.Mapping) or kind is Mapping:
        return dict(data)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(data)
    if kind is dt.datetime:
        return dt.datetime.fromisoformat(data)
    if kind is typing.Any or kind is object:
        return data
    return data


@functools.cache
def _hints(kind: Any) -> dict[str, Any]:
    """A dataclass's type hints, evaluated once (they are strings under PEP 563)."""
    return typing.get_type_hints(kind)
