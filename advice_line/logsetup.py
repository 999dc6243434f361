"""structlog configuration: JSON lines in production, readable console in development.

Every request binds ``request_id`` and ``user_id`` through contextvars. A redaction step
replaces the values of patient-identifying fields in every event (at any depth), whatever
the call site passed, and masks anything shaped like a CPR number, tracebacks included, so
that logs never carry patient data.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

#: Keys that may hold patient-identifying or clinical free text; dropped from every event.
REDACTED_KEYS = frozenset(
    {
        "name", "patient_name", "display_name", "cpr", "address", "phone", "notes",
        "isbar", "situation", "background", "assessment", "request_text", "password",
        "totp", "treatment_limitations", "people_present", "body",
    }
)  # fmt: skip
# Ten digits, optionally split after six: also inside identifiers such as "cpr0102031234".
_CPR = re.compile(r"(?<!\d)\d{6}[- ]?\d{4}(?!\d)")
_MAX_DEPTH = 6


def _clean(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return _CPR.sub("[cpr]", value)
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {
            k: "[redacted]" if k in REDACTED_KEYS else _clean(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_clean(v, depth + 1) for v in value)
    return value


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: replace sensitive keys' values (at any depth), mask CPR numbers."""
    for key in list(event):
        event[key] = "[redacted]" if key in REDACTED_KEYS else _clean(event[key])
    return event


def configure_logging(
    log_format: str = "console", level: str = "info", stream: TextIO | None = None
) -> None:
    """Configure structlog and route the standard library's logging through it."""
    renderer: Any
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    # Tracebacks are rendered before redaction, so exception text is masked too.
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact,
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact,
                renderer,
            ],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    # aiohttp's access log repeats what our middleware logs, with raw paths; keep it quiet.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
