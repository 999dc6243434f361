"""The OpenAPI 3 document, built from the routes themselves so it cannot drift from them.

Every API handler is decorated with :func:`api`, which records its summary, request
schema and responses; :func:`build` walks the router. A test checks that every route
under ``/api/v1`` is documented.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from advice_line import __version__
from advice_line.validation import Field

H = TypeVar("H", bound=Callable[..., Any])


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    request: Mapping[str, Field] | None = None
    request_content_type: str = "application/json"
    responses: Mapping[int, str] = field(default_factory=dict)
    authenticated: bool = True
    query: Mapping[str, str] = field(default_factory=dict)


def api(
    summary: str,
    *,
    tag: str,
    request: Mapping[str, Field] | None = None,
    request_content_type: str = "application/json",
    responses: Mapping[int, str] | None = None,
    authenticated: bool = True,
    query: Mapping[str, str] | None = None,
) -> Callable[[H], H]:
    """Attach OpenAPI metadata to a handler."""

    def mark(handler: H) -> H:
        handler.__openapi__ = Operation(  # type: ignore[attr-defined]
            summary, tag, request, request_content_type, responses or {200: "OK"},
            authenticated, query or {},
        )  # fmt: skip
        return handler

    return mark


_JSON_TYPES = {"str": "string", "int": "integer", "bool": "boolean", "date": "string",
               "enum": "string", "time": "string", "datetime": "string"}  # fmt: skip
_FORMATS: dict[str, dict[str, Any]] = {
    "date": {"format": "date"},
    "datetime": {"format": "date-time"},
    "time": {"pattern": r"^\d{2}:\d{2}(:\d{2})?$"},
}


def field_schema(f: Field) -> dict[str, Any]:
    """The JSON Schema (OpenAPI 3.0 dialect) of one field."""
    if f.kind == "object":
        assert f.schema is not None
        return object_schema(f.schema)
    if f.kind == "list":
        assert f.item is not None
        return {"type": "array", "items": field_schema(f.item), "minItems": f.min_items,
                "maxItems": f.max_items}  # fmt: skip
    schema: dict[str, Any] = {"type": _JSON_TYPES[f.kind], **_FORMATS.get(f.kind, {})}
    if f.kind == "enum":
        schema["enum"] = list(f.choices)
    if f.kind == "str":
        schema["maxLength"] = f.max_length
        schema.update({"minLength": f.min_length} if f.min_length else {})
        schema.update({"pattern": f.pattern} if f.pattern else {})
    limits = {"minimum": f.minimum, "maximum": f.maximum, "nullable": f.nullable or None}
    schema.update({k: v for k, v in limits.items() if v is not None})
    return schema


def object_schema(schema: Mapping[str, Field]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {name: field_schema(f) for name, f in schema.items()},
    }
    required = [name for name, f in schema.items() if f.required]
    if required:
        result["required"] = required
    return result


_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")

PROBLEM_SCHEMA = {
    "type": "object",
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "message": {"type": "string"}}}},
    },
    "required": ["type", "title", "status"],
}  # fmt: skip


def _operation(route: web.AbstractRoute, op: Operation, path: str) -> dict[str, Any]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(path)
    ] + [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": text,
            "schema": {"type": "string"},
        }
        for name, text in op.query.items()
    ]
    responses: dict[str, Any] = {
        str(code): {"description": text} for code, text in op.responses.items()
    }
    responses["default"] = {
        "description": "An error, as RFC 9457 problem details",
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }
    result: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": getattr(route.handler, "__name__", "handler"),
        "responses": responses,
    }
    if params:
        result["parameters"] = params
    if op.request is not None:
        result["requestBody"] = {
            "required": True,
            "content": {op.request_content_type: {"schema": object_schema(op.request)}},
        }
    if op.authenticated:
        result["security"] = [{"session": []}]
    return result


def build(app: web.Application) -> dict[str, Any]:
    """The OpenAPI document for every documented route of ``app``."""
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        op: Operation | None = getattr(route.handler, "__openapi__", None)
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if op is None or not path or route.method == "HEAD":
            continue
        path = _PARAM.sub(r"{\1}", path)
        paths.setdefault(path, {})[route.method.lower()] = _operation(route, op, path)
    return {
        "openapi": "3.0.3",
        "info": {"title": "Advice line API", "version": __version__},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {"Problem": PROBLEM_SCHEMA},
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "al_session",
                            "description": "Session cookie from POST /api/v1/auth/login; "
                            "state-changing requests also send X-CSRF-Token."},
            },
        },
    }  # fmt: skip
