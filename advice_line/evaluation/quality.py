"""Call quality, per channel: round-trip time, relay through TURN, packet loss."""

from __future__ import annotations

from collections.abc import Sequence

from .records import EpisodeRecord
from .stats import median, percentile, share
from .table import Cell, Table, make

CHANNELS = ("all", "video", "audio")


def call_quality(episodes: Sequence[EpisodeRecord]) -> Table:
    """Per channel: calls, calls with quality reports, the median and 90th percentile of the
    calls' median round trip, the share of reported calls relayed (any report over TURN),
    and the median and 90th percentile of each call's worst packet loss (a fraction)."""
    rows: list[list[Cell]] = []
    for channel in CHANNELS:
        mine = [r.facts for r in episodes if channel in ("all", r.facts.channel)]
        reported = [f.quality for f in mine if f.quality.reports]
        rtts = [q.median_rtt_ms for q in reported if q.median_rtt_ms is not None]
        losses = [q.max_packet_loss for q in reported if q.max_packet_loss is not None]
        relayed = sum(1 for q in reported if q.relay_share)
        rows.append([
            channel, len(mine), len(reported), sum(q.reports for q in reported),
            median(rtts), percentile(rtts, 90), relayed, share(relayed, len(reported)),
            median(losses, 4), percentile(losses, 90, 4),
        ])  # fmt: skip
    columns = ["channel", "episodes", "with_reports", "reports", "median_rtt_ms",
               "p90_rtt_ms", "relayed", "share_relayed", "median_max_loss", "p90_max_loss"]  # fmt: skip
    return make("call_quality", columns, rows)
