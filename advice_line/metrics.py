"""Prometheus metrics for one application instance (its own registry, so tests stay apart)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "advice_line_http_requests_total", "HTTP requests by route and status",
            ["method", "route", "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "advice_line_http_request_duration_seconds", "HTTP request latency by route",
            ["method", "route"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )  # fmt: skip
        self.websockets = Gauge(
            "advice_line_websocket_connections", "Open WebSocket connections on this node",
            registry=self.registry,
        )  # fmt: skip
        self.logins = Counter(
            "advice_line_logins_total",
            "Login attempts by outcome",
            ["outcome"],
            registry=self.registry,
        )

        # Routing through a PostgreSQL outage (docs/operations.md, "PostgreSQL outage").
        self.database_away = Gauge(
            "advice_line_database_away",
            "1 while this node cannot reach PostgreSQL and routes new calls without it",
            registry=self.registry,
        )
        self.outage_requests = Counter(
            "advice_line_outage_consultations_total",
            "Consultations this node was asked for while PostgreSQL was away",
            registry=self.registry,
        )
        self.handed_back = Counter(
            "advice_line_outage_handed_back_total",
            "Consultations of an outage this node wrote back into PostgreSQL",
            registry=self.registry,
        )
        self.spooled_bytes = Gauge(
            "advice_line_outage_spool_bytes",
            "Bytes in this node's spool not yet replayed into PostgreSQL",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
