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

FieldError = dict[str, str]


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


def _check_str(f: Field, value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, str):
        return None, "must be a string"
    value = value.strip()
    if len(value) < f.min_length:
        return (
            None,
            "must not be empty"
            if f.min_length == 1
            else f"must be at least {f.min_length} characters",
        )
    if len(value) > f.max_length:
        return None, f"must be at most {f.max_length} characters"
    if f.pattern and not re.fullmatch(f.pattern, value):
        return None, "has an invalid format"
    if "\x00" in value:
        return None, "must not contain NUL characters"
    return value, None


def _check_int(f: Field, value: Any) -> tuple[Any, str | None]:
    if isinstance(value, bool) or not isinstance(value, int):
        return None, "must be a whole number"
    if f.minimum is not None and value < f.minimum:
        return None, f"must be at least {f.minimum}"
    if f.maximum is not None and value > f.maximum:
        return None, f"must be at most {f.maximum}"
    return value, None


def _check_bool(_f: Field, value: Any) -> tuple[Any, str | None]:
    return (value, None) if isinstance(value, bool) else (None, "must be true or false")


def _check_date(_f: Field, value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, str):
        return None, "must be a date (YYYY-MM-DD)"
    try:
        return dt.date.fromisoformat(value), None
    except ValueError:
        return None, "must be a date (YYYY-MM-DD)"


def _check_time(_f: Field, value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str) and re.fullmatch(r"\d{2}:\d{2}(:\d{2})?", value):
        try:
            return dt.time.fromisoformat(value), None
        except ValueError:
            pass
    return None, "must be a time of day (HH:MM)"


def _check_datetime(_f: Field, value: Any) -> tuple[Any, str | None]:
    """An RFC 3339 date-time with an offset, returned in UTC."""
    message = "must be a date-time with a time-zone offset (RFC 3339)"
    if not isinstance(value, str) or len(value) > 40:
        return None, message
    try:
        parsed = dt.datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None, message
    if parsed.tzinfo is None:
        return None, message
    return parsed.astimezone(dt.UTC), None


def _check_enum(f: Field, value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, str) or value not in f.choices:
        return None, "must be one of " + ", ".join(f.choices)
    return value, None


_CHECKS: dict[str, Callable[[Field, Any], tuple[Any, str | None]]] = {
    "str": _check_str,
    "int": _check_int,
    "bool": _check_bool,
    "date": _check_date,
    "enum": _check_enum,
    "time": _check_time,
    "datetime": _check_datetime,
}


def validate(
    schema: Mapping[str, Field], data: Any, *, partial: bool = False, prefix: str = ""
) -> dict[str, Any]:
    """Return the cleaned values of ``data`` or raise :class:`ValidationFailed`.

    With ``partial`` (PATCH-like updates) required fields may be absent.
    """
    if not isinstance(data, dict):
        raise ValidationFailed([{"field": prefix or "(body)", "message": "must be a JSON object"}])
    errors: list[FieldError] = [
        {"field": prefix + str(key), "message": "unknown field"}
        for key in data
        if key not in schema
    ]
    clean: dict[str, Any] = {}
    for name, f in schema.items():
        path = prefix + name
        if name not in data:
            if f.required and not partial:
                errors.append({"field": path, "message": "is required"})
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
        raise ValidationFailed([{"field": path, "message": "must not be null"}])
    if f.kind == "object":
        assert f.schema is not None
        if not isinstance(value, dict):
            raise ValidationFailed([{"field": path, "message": "must be a JSON object"}])
        return validate(f.schema, value, partial=partial, prefix=path + ".")
    if f.kind == "list":
        return _check_list(f, value, path, partial)
    cleaned, message = _CHECKS[f.kind](f, value)
    if message:
        raise ValidationFailed([{"field": path, "message": message}])
    return cleaned


def _check_list(f: Field, value: Any, path: str, partial: bool) -> list[Any]:
    assert f.item is not None
    if not isinstance(value, list):
        raise ValidationFailed([{"field": path, "message": "must be a list"}])
    if not f.min_items <= len(value) <= f.max_items:
        message = f"must have {f.min_items} to {f.max_items} items"
        raise ValidationFailed([{"field": path, "message": message}])
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
