"""Call quality, per channel: round-trip time, relay through TURN, packet loss."""

from __future__ import annotations

from collections import Counter
from itertools import compress

from .rows import Columns
from .stats import median, percentile, share
from .table import Cell, Table, make

CHANNELS = ("all", "video", "audio")


def call_quality(episodes: Columns) -> Table:
    """Per channel: calls, calls with quality reports, the median and 90th percentile of the
    calls' median round trip, the share of reported calls relayed (any report over TURN),
    and the median and 90th percentile of each call's worst packet loss (a fraction)."""
    channels = episodes["channel"]
    calls = Counter(channels)
    calls["all"] = len(episodes)
    reports = episodes["q_reports"]
    reported = [bool(n) for n in reports]
    rows: list[list[Cell]] = []
    for channel in CHANNELS:
        mine = (
            reported
            if channel == "all"
            else [r and c == channel for r, c in zip(reported, channels, strict=True)]
        )
        rtts = [v for v in compress(episodes["q_rtt"], mine) if v is not None]
        losses = [v for v in compress(episodes["q_loss"], mine) if v is not None]
        relayed = sum(compress(episodes["q_relayed"], mine))
        with_reports = sum(mine)
        rows.append([
            channel, calls[channel], with_reports, sum(compress(reports, mine)),
            median(rtts), percentile(rtts, 90), relayed, share(relayed, with_reports),
            median(losses, 4), percentile(losses, 90, 4),
        ])  # fmt: skip
    columns = ["channel", "episodes", "with_reports", "reports", "median_rtt_ms",
               "p90_rtt_ms", "relayed", "share_relayed", "median_max_loss", "p90_max_loss"]  # fmt: skip
    return make("call_quality", columns, rows)
