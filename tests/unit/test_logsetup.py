"""advice_line.logsetup: redaction of patient data and the JSON/console configuration."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from advice_line.logsetup import REDACTED_KEYS, configure_logging, redact

NAME = "Karl Fiktivsen"
CPR = "010203-1234"
CPR_DIGITS = "0102031234"


def _per_phase(handler: logging.Handler) -> bool:
    """pytest's capture handlers, installed afresh for setup, call and teardown."""
    return type(handler).__name__ == "LogCaptureHandler"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Undo configure_logging: structlog defaults, contextvars, stdlib root and aiohttp.access."""
    root = logging.getLogger()
    access = logging.getLogger("aiohttp.access")
    handlers, level, access_level = root.handlers[:], root.level, access.level
    structlog.contextvars.clear_contextvars()
    try:
        yield
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.reset_defaults()
        # pytest installs fresh capture handlers for each phase; keep the current ones.
        root.handlers[:] = [h for h in handlers if not _per_phase(h)] + [
            h for h in root.handlers if _per_phase(h)
        ]
        root.setLevel(level)
        access.setLevel(access_level)


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


# The redact processor -------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(REDACTED_KEYS))
def test_redact_removes_the_value_of_every_sensitive_key(key: str) -> None:
    event = redact(None, "info", {"event": "patient.viewed", key: NAME, "patient_id": 7})

    assert NAME not in repr(event)
    assert event.get(key) in (None, "[redacted]")
    assert event["event"] == "patient.viewed"
    assert event["patient_id"] == 7


def test_redact_removes_non_string_sensitive_values_too() -> None:
    event = redact(None, "info", {"event": "x", "cpr": 102031234, "notes": ["a", NAME]})

    assert "102031234" not in repr(event)
    assert NAME not in repr(event)


def test_redacted_keys_cover_patient_identity_and_clinical_text() -> None:
    assert {"name", "cpr", "address", "phone", "notes", "isbar", "password"} <= REDACTED_KEYS


@pytest.mark.parametrize(
    "text",
    [
        CPR,
        CPR_DIGITS,
        f"looked up {CPR}",
        f"cpr={CPR_DIGITS}",
        f"cpr: {CPR}.",
        f"({CPR_DIGITS})",
        f"{CPR} and 111111-1118",
    ],
)
def test_redact_masks_cpr_shaped_numbers_in_strings(text: str) -> None:
    event = redact(None, "info", {"event": "search", "query": text})

    assert "0102031234" not in event["query"].replace("-", "")
    assert "1111111118" not in event["query"].replace("-", "")
    assert "[cpr]" in event["query"]


def test_redact_masks_cpr_numbers_in_the_event_name_itself() -> None:
    event = redact(None, "info", {"event": f"lookup {CPR}"})

    assert event["event"] == "lookup [cpr]"


@pytest.mark.parametrize(
    "text",
    ["order 12345", "2026-03-29T02:30:00+02:00", "id 123456789", "phone-ish 12 34 56 78", "v1.2.3"],
)
def test_redact_leaves_other_numbers_alone(text: str) -> None:
    assert redact(None, "info", {"event": "x", "detail": text})["detail"] == text


def test_redact_leaves_ordinary_fields_alone() -> None:
    event = {"event": "consultation.offered", "consultation_id": 12, "tier": "gp", "ok": True}

    assert redact(None, "info", dict(event)) == event


def test_redact_masks_cpr_numbers_inside_nested_values() -> None:
    # Call sites pass dicts and lists too (audit details, ids); "whatever the call site passed".
    event = redact(
        None, "info", {"event": "x", "details": {"query": CPR, "name": NAME}, "ids": [CPR_DIGITS]}
    )

    assert CPR not in repr(event)
    assert CPR_DIGITS not in repr(event)
    assert NAME not in repr(event)


# configure_logging ----------------------------------------------------------------------


def test_json_format_writes_one_json_object_per_line_with_bound_context() -> None:
    stream = io.StringIO()
    configure_logging("json", stream=stream)
    structlog.contextvars.bind_contextvars(request_id="req-1", user_id=42)

    structlog.get_logger("test").info("consultation.offered", consultation_id=9)

    [line] = json_lines(stream)
    assert line["event"] == "consultation.offered"
    assert line["level"] == "info"
    assert line["request_id"] == "req-1"
    assert line["user_id"] == 42
    assert line["consultation_id"] == 9
    assert line["timestamp"].endswith("Z")


def test_unbound_context_is_not_carried_over() -> None:
    stream = io.StringIO()
    configure_logging("json", stream=stream)
    structlog.contextvars.bind_contextvars(request_id="req-1")
    structlog.contextvars.clear_contextvars()

    structlog.get_logger().info("later")

    [line] = json_lines(stream)
    assert "request_id" not in line


def test_patient_name_and_cpr_never_reach_the_output() -> None:
    stream = io.StringIO()
    configure_logging("json", stream=stream)

    log = structlog.get_logger("test")
    log.info("patient.viewed", name=NAME, patient_id=3)
    log.warning(f"lookup failed for {CPR}", query=f"cpr {CPR_DIGITS}")
    log.error("patient.error", display_name=NAME, cpr=CPR)

    output = stream.getvalue()
    assert len(json_lines(stream)) == 3
    assert NAME not in output
    assert "Karl" not in output
    assert CPR not in output
    assert CPR_DIGITS not in output


def test_level_filters_lower_events() -> None:
    stream = io.StringIO()
    configure_logging("json", level="warning", stream=stream)
    log = structlog.get_logger()

    log.info("quiet")
    log.warning("loud")

    assert [line["event"] for line in json_lines(stream)] == ["loud"]


def test_console_format_writes_readable_text() -> None:
    stream = io.StringIO()
    configure_logging("console", stream=stream)

    structlog.get_logger().info("engine.cycle", module="escalation", name=NAME)

    output = stream.getvalue()
    assert "engine.cycle" in output
    assert "escalation" in output
    assert NAME not in output
    assert "\x1b[" not in output  # no colour codes in files and journald


def test_standard_library_logging_goes_through_the_same_pipeline() -> None:
    stream = io.StringIO()
    configure_logging("json", stream=stream)
    structlog.contextvars.bind_contextvars(request_id="req-7")

    logging.getLogger("aiohttp.server").warning("bad request for %s", CPR)

    [line] = json_lines(stream)
    assert line["event"] == "bad request for [cpr]"
    assert line["request_id"] == "req-7"
    assert line["level"] == "warning"


def test_aiohttp_access_log_is_quiet() -> None:
    stream = io.StringIO()
    configure_logging("json", level="debug", stream=stream)

    logging.getLogger("aiohttp.access").info("GET /patients/42 200")

    assert stream.getvalue() == ""


def test_cpr_numbers_in_exception_tracebacks_are_masked() -> None:
    stream = io.StringIO()
    configure_logging("json", stream=stream)

    try:
        raise ValueError(f"no patient with cpr {CPR}")
    except ValueError:
        structlog.get_logger().exception("patient.lookup_failed")

    [line] = json_lines(stream)
    assert "ValueError: no patient with cpr [cpr]" in line["exception"]
    assert CPR not in stream.getvalue()


def test_standard_library_exceptions_are_rendered_as_tracebacks() -> None:
    stream = io.StringIO()
    configure_logging("json", stream=stream)

    try:
        raise RuntimeError("pool exhausted")
    except RuntimeError:
        logging.getLogger("aiohttp.server").exception("Error handling request")

    [line] = json_lines(stream)
    assert "Traceback (most recent call last)" in line.get("exception", "")
    assert "<traceback object" not in stream.getvalue()
