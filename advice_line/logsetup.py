"""structlog configuration: JSON lines in production, readable console in development.

Every request binds ``request_id`` and ``user_id`` through contextvars. A redaction step
removes patient-identifying fields from every event, whatever the call site passed, and
masks anything shaped like a CPR number, so that logs never carry patient data.
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
_CPR = re.compile(r"\b\d{6}-?\d{4}\b")


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: drop sensitive keys, mask CPR-shaped numbers in strings."""
    for key in list(event):
        if key in REDACTED_KEYS:
            event[key] = "[redacted]"
        elif isinstance(event[key], str) and _CPR.search(event[key]):
            event[key] = _CPR.sub("[cpr]", event[key])
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
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    # aiohttp's access log repeats what our middleware logs, with raw paths; keep it quiet.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
