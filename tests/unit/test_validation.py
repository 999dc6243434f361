"""advice_line.validation: field kinds, unknown/required fields, partial mode, nesting."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from advice_line.validation import Field, ValidationFailed, validate


def errors_of(schema: dict[str, Field], data: Any, **kwargs: Any) -> list[dict[str, str]]:
    """The errors as (field, message) pairs; codes are checked by their own tests."""
    return [
        {"field": e["field"], "message": e["message"]} for e in full_errors(schema, data, **kwargs)
    ]


def full_errors(schema: dict[str, Field], data: Any, **kwargs: Any) -> list[dict[str, Any]]:
    with pytest.raises(ValidationFailed) as caught:
        validate(schema, data, **kwargs)
    return caught.value.errors


# One field of each kind: value in, cleaned value out -----------------------------------

VALID = [
    (Field("str"), "hello", "hello"),
    (Field("str"), "  padded \t", "padded"),
    (Field("str"), "", ""),
    (Field("str", min_length=2), " ab ", "ab"),
    (Field("str", max_length=3), "abc", "abc"),
    (Field("str", max_length=3), "  abc  ", "abc"),
    (Field("str", pattern=r"[a-z]+"), "abc", "abc"),
    (Field("str"), "Ærø Å ø", "Ærø Å ø"),
    (Field("int"), 0, 0),
    (Field("int"), -5, -5),
    (Field("int", minimum=1, maximum=10), 1, 1),
    (Field("int", minimum=1, maximum=10), 10, 10),
    (Field("int"), 10**30, 10**30),
    (Field("bool"), True, True),
    (Field("bool"), False, False),
    (Field("date"), "2026-03-29", dt.date(2026, 3, 29)),
    (Field("date"), "2024-02-29", dt.date(2024, 2, 29)),
    (Field("enum", choices=("a", "b")), "b", "b"),
    (Field("str", nullable=True), None, None),
    (Field("int", nullable=True), None, None),
    (Field("enum", nullable=True, choices=("a",)), None, None),
]


@pytest.mark.parametrize(("field", "value", "expected"), VALID)
def test_valid_value_is_cleaned(field: Field, value: Any, expected: Any) -> None:
    assert validate({"f": field}, {"f": value}) == {"f": expected}


INVALID = [
    (Field("str"), 1, "must be a string"),
    (Field("str"), None, "must not be null"),
    (Field("str"), ["a"], "must be a string"),
    (Field("str", min_length=1), "", "must not be empty"),
    (Field("str", min_length=1), "   ", "must not be empty"),
    (Field("str", min_length=3), "ab", "must be at least 3 characters"),
    (Field("str", max_length=3), "abcd", "must be at most 3 characters"),
    (Field("str"), "x" * 2001, "must be at most 2000 characters"),
    (Field("str", pattern=r"[a-z]+"), "ab1", "has an invalid format"),
    (Field("str", pattern=r"[a-z]+"), "xabcx1", "has an invalid format"),
    (Field("str"), "a\x00b", "must not contain NUL characters"),
    (Field("int"), "1", "must be a whole number"),
    (Field("int"), 1.5, "must be a whole number"),
    (Field("int"), 1.0, "must be a whole number"),
    (Field("int"), True, "must be a whole number"),
    (Field("int"), False, "must be a whole number"),
    (Field("int", minimum=1), 0, "must be at least 1"),
    (Field("int", maximum=10), 11, "must be at most 10"),
    (Field("bool"), 1, "must be true or false"),
    (Field("bool"), "true", "must be true or false"),
    (Field("bool"), 0, "must be true or false"),
    (Field("date"), "2026-02-30", "must be a date (YYYY-MM-DD)"),
    (Field("date"), "29-03-2026", "must be a date (YYYY-MM-DD)"),
    (Field("date"), "", "must be a date (YYYY-MM-DD)"),
    (Field("date"), 20260329, "must be a date (YYYY-MM-DD)"),
    (Field("enum", choices=("a", "b")), "c", "must be one of a, b"),
    (Field("enum", choices=("a", "b")), "A", "must be one of a, b"),
    (Field("enum", choices=("1",)), 1, "must be one of 1"),
    (Field("enum", choices=("a",)), None, "must not be null"),
    (Field("object", schema={"x": Field("int")}), None, "must not be null"),
]


@pytest.mark.parametrize(("field", "value", "message"), INVALID)
def test_invalid_value_is_refused_naming_the_field(field: Field, value: Any, message: str) -> None:
    assert errors_of({"f": field}, {"f": value}) == [{"field": "f", "message": message}]


def test_error_message_joins_field_and_message() -> None:
    with pytest.raises(ValidationFailed, match=r"^age: must be a whole number$"):
        validate({"age": Field("int")}, {"age": "old"})


# Fields present, absent and unknown ---------------------------------------------------

SCHEMA = {
    "name": Field("str", required=True, min_length=1),
    "age": Field("int", minimum=0),
    "kind": Field("enum", required=True, choices=("home_care", "hospital")),
}


def test_absent_optional_fields_are_left_out() -> None:
    assert validate(SCHEMA, {"name": "Org", "kind": "hospital"}) == {
        "name": "Org",
        "kind": "hospital",
    }


def test_required_fields_are_reported() -> None:
    assert errors_of(SCHEMA, {}) == [
        {"field": "name", "message": "is required"},
        {"field": "kind", "message": "is required"},
    ]


def test_unknown_fields_are_reported() -> None:
    data = {"name": "Org", "kind": "hospital", "colour": "red", "admin": True}

    assert errors_of(SCHEMA, data) == [
        {"field": "colour", "message": "unknown field"},
        {"field": "admin", "message": "unknown field"},
    ]


def test_all_errors_are_collected_at_once() -> None:
    data = {"name": "", "age": -1, "extra": 1}

    errors = errors_of(SCHEMA, data)

    assert sorted((e["field"], e["message"]) for e in errors) == [
        ("age", "must be at least 0"),
        ("extra", "unknown field"),
        ("kind", "is required"),
        ("name", "must not be empty"),
    ]


def test_partial_mode_allows_absent_required_fields() -> None:
    assert validate(SCHEMA, {"age": 3}, partial=True) == {"age": 3}
    assert validate(SCHEMA, {}, partial=True) == {}


def test_partial_mode_still_checks_present_fields_and_unknown_ones() -> None:
    errors = errors_of(SCHEMA, {"name": "", "other": 1}, partial=True)

    assert sorted((e["field"], e["message"]) for e in errors) == [
        ("name", "must not be empty"),
        ("other", "unknown field"),
    ]


@pytest.mark.parametrize("body", [None, [], [{"name": "x"}], "text", 1, 1.5, True])
def test_a_body_that_is_not_an_object_is_refused(body: Any) -> None:
    assert errors_of(SCHEMA, body) == [{"field": "(body)", "message": "must be a JSON object"}]


# Nested objects -----------------------------------------------------------------------

NESTED = {
    "patient": Field(
        "object",
        required=True,
        schema={
            "reference": Field("str", required=True, min_length=1),
            "plan": Field(
                "object",
                schema={"dnr": Field("bool", required=True), "decided_on": Field("date")},
            ),
        },
    ),
    "note": Field("str"),
}


def test_nested_object_is_cleaned() -> None:
    data = {"patient": {"reference": " P-1 ", "plan": {"dnr": True, "decided_on": "2026-01-02"}}}

    assert validate(NESTED, data) == {
        "patient": {"reference": "P-1", "plan": {"dnr": True, "decided_on": dt.date(2026, 1, 2)}}
    }


def test_nested_errors_name_dotted_field_paths() -> None:
    data = {
        "patient": {"reference": "", "plan": {"decided_on": "soon", "colour": 1}, "x": 0},
        "note": 5,
    }

    errors = errors_of(NESTED, data)

    assert sorted((e["field"], e["message"]) for e in errors) == [
        ("note", "must be a string"),
        ("patient.plan.colour", "unknown field"),
        ("patient.plan.decided_on", "must be a date (YYYY-MM-DD)"),
        ("patient.plan.dnr", "is required"),
        ("patient.reference", "must not be empty"),
        ("patient.x", "unknown field"),
    ]


def test_nested_partial_mode_applies_to_inner_objects() -> None:
    assert validate(NESTED, {"patient": {"plan": {}}}, partial=True) == {"patient": {"plan": {}}}


def test_missing_required_nested_object_is_reported() -> None:
    assert errors_of(NESTED, {}) == [{"field": "patient", "message": "is required"}]


@pytest.mark.parametrize("value", ["P-1", ["reference"]])
def test_nested_value_that_is_not_an_object_names_the_field(value: Any) -> None:
    # The path must be "patient" (as for every other kind), not "patient." with a dot.
    assert errors_of(NESTED, {"patient": value}) == [
        {"field": "patient", "message": "must be a JSON object"}
    ]


# Property: validate() is total over JSON ----------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)

PROPERTY_SCHEMA = {
    "s": Field("str", required=True, min_length=1, max_length=10, pattern=r"[a-z ]*"),
    "i": Field("int", minimum=-5, maximum=5),
    "b": Field("bool", nullable=True),
    "d": Field("date"),
    "e": Field("enum", choices=("x", "y")),
    "o": Field("object", schema={"n": Field("int", required=True), "t": Field("str")}),
}
# Mostly the schema's own names (and some strangers), so that every check gets exercised.
keys = st.sampled_from([*PROPERTY_SCHEMA, "o.n", ""]) | st.text(max_size=5)
field_values = (
    json_values
    | st.dates().map(dt.date.isoformat)
    | st.sampled_from(["x", "y", "abc", " ab "])
    | st.dictionaries(st.sampled_from(["n", "t", "z"]), json_values, max_size=3)
)
bodies = st.dictionaries(keys, field_values, max_size=8) | json_values


@given(body=bodies, partial=st.booleans())
def test_validate_returns_schema_keys_or_raises_validation_failed(body: Any, partial: bool) -> None:
    try:
        outcome: dict[str, Any] | ValidationFailed = validate(
            PROPERTY_SCHEMA, body, partial=partial
        )
    except ValidationFailed as exc:
        outcome = exc
    if isinstance(outcome, ValidationFailed):
        assert outcome.errors
        for error in outcome.errors:
            assert {"field", "code", "message"} <= set(error)
            assert error["message"]
    else:
        assert isinstance(outcome, dict)
        assert set(outcome) <= set(PROPERTY_SCHEMA)
        assert set(outcome) <= set(body)
        if "o" in outcome:
            assert set(outcome["o"]) <= {"n", "t"}


# Time, date-time and list fields (added with the rota API).


@pytest.mark.parametrize(
    ("value", "expected"),
    [("08:00", dt.time(8, 0)), ("23:59:30", dt.time(23, 59, 30)), ("00:00", dt.time(0, 0))],
)
def test_time_fields(value, expected):
    assert validate({"t": Field("time")}, {"t": value}) == {"t": expected}


@pytest.mark.parametrize("value", ["8:00", "24:00", "08:60", "noon", 800, "08:00+01:00"])
def test_bad_time_fields(value):
    with pytest.raises(ValidationFailed) as raised:
        validate({"t": Field("time")}, {"t": value})
    assert raised.value.errors[0]["field"] == "t"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-29T02:30:00+02:00", dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC)),
        ("2026-10-25T01:00:00Z", dt.datetime(2026, 10, 25, 1, 0, tzinfo=dt.UTC)),
    ],
)
def test_datetime_fields_come_out_in_utc(value, expected):
    assert validate({"at": Field("datetime")}, {"at": value}) == {"at": expected}


@pytest.mark.parametrize("value", ["2026-03-29T02:30:00", "2026-03-29", "yesterday", 17, "x" * 50])
def test_datetime_needs_an_offset(value):
    with pytest.raises(ValidationFailed):
        validate({"at": Field("datetime")}, {"at": value})


def test_list_items_are_checked_with_indexed_paths():
    schema = {
        "days": Field("list", item=Field("int", minimum=0, maximum=6), min_items=1, max_items=7),
        "windows": Field(
            "list", item=Field("object", schema={"start": Field("time", required=True)})
        ),
    }
    assert validate(schema, {"days": [0, 6], "windows": [{"start": "08:00"}]}) == {
        "days": [0, 6],
        "windows": [{"start": dt.time(8, 0)}],
    }
    with pytest.raises(ValidationFailed) as raised:
        validate(schema, {"days": [0, 7, "x"], "windows": [{}, {"start": "late"}]})
    fields = [e["field"] for e in raised.value.errors]
    assert fields == ["days[1]", "days[2]", "windows[0].start", "windows[1].start"]
    for bad in ({"days": []}, {"days": list(range(8))}, {"days": "0,1"}):
        with pytest.raises(ValidationFailed):
            validate(schema, bad)


# Stable codes, for clients that translate the errors -------------------------------------


@pytest.mark.parametrize(
    ("schema", "data", "expected"),
    [
        ({"f": Field("str")}, {"f": 1}, {"code": "not_string"}),
        ({"f": Field("str", min_length=1)}, {"f": " "}, {"code": "required"}),
        ({"f": Field("str", min_length=10)}, {"f": "short"}, {"code": "too_short", "limit": 10}),
        ({"f": Field("str", max_length=3)}, {"f": "long"}, {"code": "too_long", "limit": 3}),
        ({"f": Field("str", pattern=r"\d+")}, {"f": "x"}, {"code": "format"}),
        ({"f": Field("int", minimum=1)}, {"f": 0}, {"code": "too_small", "limit": 1}),
        ({"f": Field("int", maximum=5)}, {"f": 6}, {"code": "too_large", "limit": 5}),
        ({"f": Field("int")}, {"f": True}, {"code": "not_integer"}),
        ({"f": Field("bool")}, {"f": "yes"}, {"code": "not_boolean"}),
        ({"f": Field("date")}, {"f": "x"}, {"code": "not_date"}),
        ({"f": Field("time")}, {"f": "x"}, {"code": "not_time"}),
        ({"f": Field("datetime")}, {"f": "x"}, {"code": "not_datetime"}),
        ({"f": Field("enum", choices=("a", "b"))}, {"f": "c"}, {"code": "choice", "choices": ["a", "b"]}),
        ({"f": Field("str", required=True)}, {}, {"code": "required"}),
        ({"f": Field("str")}, {"g": 1}, {"code": "unknown_field"}),
        ({"f": Field("int")}, {"f": None}, {"code": "required"}),
        ({"f": Field("list", item=Field("int"))}, {"f": 1}, {"code": "not_list"}),
        ({"f": Field("list", item=Field("int"), min_items=1)}, {"f": []},
         {"code": "item_count", "minimum": 1, "maximum": 100}),
        ({"f": Field("object", schema={})}, {"f": 1}, {"code": "not_object"}),
    ],
)  # fmt: skip
def test_every_error_has_a_stable_code(schema, data, expected):
    (error,) = full_errors(schema, data)
    assert {k: v for k, v in error.items() if k not in ("field", "message")} == expected
