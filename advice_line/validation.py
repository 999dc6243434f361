"""Strict validation of JSON request bodies against small declarative schemas.

A schema is a mapping of field name to :class:`Field`. Unknown fields, wrong types, missing
required fields, values out of range: every problem is collected, each naming its field,
so a client can fix them all at once. Nothing here touches I/O.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

FieldError = dict[str, Any]


@dataclass(frozen=True)
class Field:
    """One field: its JSON type, whether it is required, and its limits."""

    kind: str  # "str", "int", "bool", "date", "time", "datetime", "enum", "object", "list"
    required: bool = False
    nullable: bool = False
    max_length: int = 2000
    min_length: int = 0
    choices: Sequence[str] = ()
    minimum: int | None = None
    maximum: int | None = None
    pattern: str | None = None
    schema: Mapping[str, Field] | None = None  # for "object"
    item: Field | None = None  # for "list"
    min_items: int = 0
    max_items: int = 100


class ValidationFailed(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


Complaint = dict[str, Any]
Checked = tuple[Any, Complaint | None]


def complaint(code: str, message: str, **params: Any) -> Complaint:
    """What is wrong with a value: a stable ``code`` (clients translate it), an English
    ``message``, and the limits involved (e.g. ``limit``)."""
    return {"code": code, "message": message, **params}


def _check_str(f: Field, value: Any) -> Checked:
    if not isinstance(value, str):
        return None, complaint("not_string", "must be a string")
    value = value.strip()
    if len(value) < f.min_length:
        if f.min_length == 1:
            return None, complaint("required", "must not be empty")
        message = f"must be at least {f.min_length} characters"
        return None, complaint("too_short", message, limit=f.min_length)
    if len(value) > f.max_length:
        message = f"must be at most {f.max_length} characters"
        return None, complaint("too_long", message, limit=f.max_length)
    if f.pattern and not re.fullmatch(f.pattern, value):
        return None, complaint("format", "has an invalid format")
    if "\x00" in value:
        return None, complaint("invalid", "must not contain NUL characters")
    return value, None


def _check_int(f: Field, value: Any) -> Checked:
    if isinstance(value, bool) or not isinstance(value, int):
        return None, complaint("not_integer", "must be a whole number")
    if f.minimum is not None and value < f.minimum:
        return None, complaint("too_small", f"must be at least {f.minimum}", limit=f.minimum)
    if f.maximum is not None and value > f.maximum:
        return None, complaint("too_large", f"must be at most {f.maximum}", limit=f.maximum)
    return value, None


def _check_bool(_f: Field, value: Any) -> Checked:
    if isinstance(value, bool):
        return value, None
    return None, complaint("not_boolean", "must be true or false")


def _check_date(_f: Field, value: Any) -> Checked:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value), None
        except ValueError:
            pass
    return None, complaint("not_date", "must be a date (YYYY-MM-DD)")


def _check_time(_f: Field, value: Any) -> Checked:
    if isinstance(value, str) and re.fullmatch(r"\d{2}:\d{2}(:\d{2})?", value):
        try:
            return dt.time.fromisoformat(value), None
        except ValueError:
            pass
    return None, complaint("not_time", "must be a time of day (HH:MM)")


def _check_datetime(_f: Field, value: Any) -> Checked:
    """An RFC 3339 date-time with an offset, returned in UTC."""
    bad = complaint("not_datetime", "must be a date-time with a time-zone offset (RFC 3339)")
    if not isinstance(value, str) or len(value) > 40:
        return None, bad
    try:
        parsed = dt.datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None, bad
    if parsed.tzinfo is None:
        return None, bad
    return parsed.astimezone(dt.UTC), None


def _check_enum(f: Field, value: Any) -> Checked:
    if not isinstance(value, str) or value not in f.choices:
        message = "must be one of " + ", ".join(f.choices)
        return None, complaint("choice", message, choices=list(f.choices))
    return value, None


_CHECKS: dict[str, Callable[[Field, Any], Checked]] = {
    "str": _check_str,
    "int": _check_int,
    "bool": _check_bool,
    "date": _check_date,
    "enum": _check_enum,
    "time": _check_time,
    "datetime": _check_datetime,
}


def _error(path: str, code: str, message: str, **params: Any) -> FieldError:
    return {"field": path, **complaint(code, message, **params)}


def validate(
    schema: Mapping[str, Field], data: Any, *, partial: bool = False, prefix: str = ""
) -> dict[str, Any]:
    """Return the cleaned values of ``data`` or raise :class:`ValidationFailed`.

    With ``partial`` (PATCH-like updates) required fields may be absent. Every error names
    its ``field``, a stable ``code`` and an English ``message``.
    """
    if not isinstance(data, dict):
        raise ValidationFailed([_error(prefix or "(body)", "not_object", "must be a JSON object")])
    errors: list[FieldError] = [
        _error(prefix + str(key), "unknown_field", "unknown field")
        for key in data
        if key not in schema
    ]
    clean: dict[str, Any] = {}
    for name, f in schema.items():
        path = prefix + name
        if name not in data:
            if f.required and not partial:
                errors.append(_error(path, "required", "is required"))
            continue
        try:
            clean[name] = _check_field(f, data[name], path, partial)
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    return clean


def _check_field(f: Field, value: Any, path: str, partial: bool) -> Any:
    if value is None:
        if f.nullable:
            return None
        raise ValidationFailed([_error(path, "required", "must not be null")])
    if f.kind == "object":
        assert f.schema is not None
        if not isinstance(value, dict):
            raise ValidationFailed([_error(path, "not_object", "must be a JSON object")])
        return validate(f.schema, value, partial=partial, prefix=path + ".")
    if f.kind == "list":
        return _check_list(f, value, path, partial)
    cleaned, problem = _CHECKS[f.kind](f, value)
    if problem:
        raise ValidationFailed([{"field": path, **problem}])
    return cleaned


def _check_list(f: Field, value: Any, path: str, partial: bool) -> list[Any]:
    assert f.item is not None
    if not isinstance(value, list):
        raise ValidationFailed([_error(path, "not_list", "must be a list")])
    if not f.min_items <= len(value) <= f.max_items:
        message = f"must have {f.min_items} to {f.max_items} items"
        raise ValidationFailed([_error(path, "item_count", message, minimum=f.min_items,
                                       maximum=f.max_items)])  # fmt: skip
    errors: list[FieldError] = []
    items = []
    for index, item in enumerate(value):
        try:
            items.append(_check_field(f.item, item, f"{path}[{index}]", partial))
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    return items
