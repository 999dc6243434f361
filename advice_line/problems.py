"""RFC 9457 problem details: every REST error leaves the service as application/problem+json.

Domain code raises :class:`Problem` (or a subclass); the middleware in ``advice_line.http``
turns it, and aiohttp's own HTTP errors, into a response with a stable ``type`` URI.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

PROBLEM_BASE = "https://advice-line.dk/problems/"
CONTENT_TYPE = "application/problem+json"


class Problem(Exception):
    """An error a client caused or must know about, with its HTTP status and stable type."""

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "type": PROBLEM_BASE + self.kind,
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            payload["detail"] = self.detail
        if instance:
            payload["instance"] = instance
        if self.errors is not None:
            payload["errors"] = self.errors
        payload.update(self.extra)
        return payload


def problem_response(problem: Problem, instance: str | None = None) -> web.Response:
    response = web.json_response(
        problem.body(instance), status=problem.status, content_type=CONTENT_TYPE
    )
    response.headers.update(problem.headers)
    return response


def bad_request(detail: str) -> Problem:
    return Problem(400, "bad-request", "Bad request", detail)


def invalid(errors: list[dict[str, Any]]) -> Problem:
    """422 with one entry per offending field: ``{"field": ..., "message": ...}``."""
    return Problem(422, "validation", "The request has invalid fields", errors=errors)


def not_found(what: str) -> Problem:
    return Problem(404, "not-found", "Not found", f"{what} does not exist or is not yours to see")


def forbidden(detail: str) -> Problem:
    return Problem(403, "forbidden", "Forbidden", detail)


def unauthenticated(detail: str = "log in first") -> Problem:
    return Problem(401, "unauthenticated", "Authentication required", detail)


def conflict(detail: str, field: str | None = None) -> Problem:
    """409; with ``field`` the problem names the field whose value is taken, as 422 would."""
    errors = [{"field": field, "code": "taken", "message": "is taken"}] if field else None
    return Problem(409, "conflict", "Conflict", detail, errors=errors)


_STATUS_KINDS = {
    400: "bad-request", 401: "unauthenticated", 403: "forbidden", 404: "not-found",
    405: "method-not-allowed", 406: "not-acceptable", 409: "conflict", 413: "payload-too-large",
    415: "unsupported-media-type", 422: "validation", 429: "too-many-requests",
}  # fmt: skip


def from_http_error(exc: web.HTTPException) -> Problem:
    """Map one of aiohttp's HTTP errors (404 route, 405, 413 ...) onto a problem."""
    kind = _STATUS_KINDS.get(exc.status, "server-error" if exc.status >= 500 else "http-error")
    headers = {k: v for k, v in exc.headers.items() if k.lower() in {"allow", "retry-after"}}
    detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else None
    return Problem(exc.status, kind, exc.reason, detail, headers=headers)
