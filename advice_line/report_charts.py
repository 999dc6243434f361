"""Charts of an evaluation report, drawn with matplotlib (Agg) as SVG or PNG bytes.

Nothing is written to disk: each chart is drawn into memory for the request or the CLI
command that asked for it. Figures are made with ``matplotlib.figure.Figure`` rather than
pyplot, on an Agg canvas, so no global state is shared between requests (charts are drawn in worker threads).
Titles and labels come from the translation catalogue in the requested language.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from advice_line.evaluation import Report
from advice_line.evaluation.routing import REASONS
from advice_line.evaluation.timing import BUCKETS, WEEKDAYS
from advice_line.roles import TIER_NAMES

#: Chart name -> the report table it draws.
CHARTS = {
    "heatmap": "heatmap",
    "answer_times": "answer_histogram",
    "escalation": "escalation",
    "died_where_wished": "died_where_wished",
}
FORMATS = {"svg": "image/svg+xml", "png": "image/png"}
Translate = Callable[..., str]

_COLOURS = ("#1f5f8b", "#e07b39", "#7a4fa3", "#b23a48")


def _number(value: float) -> str:
    return f"{value:g}"


def _heatmap(report: Report, fig: Figure, ax: Axes, t: Translate) -> None:
    table = report.table("heatmap")
    counts = [[int(c or 0) for c in row[1:]] for row in table.rows]
    image = ax.imshow(counts, aspect="auto", cmap="Blues", vmin=0)
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_yticks(range(len(WEEKDAYS)), [t(f"reports.weekday.{d}") for d in WEEKDAYS])
    ax.set_xlabel(t("reports.chart.heatmap.x"))
    ax.set_title(t("reports.chart.heatmap.title"))
    fig.colorbar(image, ax=ax, label=t("reports.chart.heatmap.legend"))


def _position(seconds: float) -> float:
    """Where ``seconds`` falls on the bucket axis (bucket i spans i-0.5 .. i+0.5)."""
    for i, (lo, hi) in enumerate(BUCKETS):
        if hi is None or seconds <= hi:
            top = hi if hi is not None else max(lo * 2, seconds)
            return i - 0.5 + (seconds - lo) / (top - lo)
    raise AssertionError(seconds)


def _answer_times(report: Report, fig: Figure, ax: Axes, t: Translate) -> None:
    rows = [r for r in report.table("answer_histogram").rows if r[0] == "all"]
    counts = [int(r[3] or 0) for r in rows]
    labels = [f"{lo}–{hi}" if hi is not None else f"{lo}+" for lo, hi in BUCKETS]
    ax.bar(range(len(counts)), counts, color=_COLOURS[0])
    ax.set_xticks(range(len(labels)), labels, rotation=30)
    ax.set_xlabel(t("reports.chart.answer_times.x"))
    ax.set_ylabel(t("reports.chart.answer_times.y"))
    ax.set_title(t("reports.chart.answer_times.title"))
    total = report.table("answer_times").row("all")
    lines = [("median_s", "reports.chart.answer_times.median", "--"),
             ("p90_s", "reports.chart.answer_times.p90", ":")]  # fmt: skip
    for column, key, style in lines:
        value = total[column]
        if isinstance(value, int | float):
            ax.axvline(_position(value), color=_COLOURS[1], linestyle=style,
                       label=t(key, seconds=_number(value)))  # fmt: skip
    if any(counts):
        ax.legend()
    else:
        ax.text(0.5, 0.5, t("reports.chart.empty"), transform=ax.transAxes, ha="center")


def _escalation(report: Report, fig: Figure, ax: Axes, t: Translate) -> None:
    table = report.table("escalation")
    n = report.episodes
    bottom = [0.0] * len(table.rows)
    for reason, colour in zip(REASONS, _COLOURS, strict=True):
        heights = [(int(v or 0) / n if n else 0.0) for v in table.column(f"via_{reason}")]
        ax.bar(range(len(heights)), heights, bottom=bottom, color=colour,
               label=t(f"reports.reason.{reason}"))  # fmt: skip
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_xticks(range(len(table.rows)), [t(f"tier.{name}") for name in TIER_NAMES])
    ax.set_ylim(0, 1)
    ax.set_ylabel(t("reports.chart.escalation.y"))
    ax.set_title(t("reports.chart.escalation.title"))
    ax.legend()


def _died_where_wished(report: Report, fig: Figure, ax: Axes, t: Translate) -> None:
    table = report.table("died_where_wished")
    groups = [str(g) for g in table.column("diagnosis_group")]
    shares = [float(v) if isinstance(v, int | float) else 0.0
              for v in table.column("share_died_where_wished")]  # fmt: skip
    bars = ax.bar(range(len(groups)), shares, color=_COLOURS[: len(groups)])
    notes = [
        t("reports.chart.died_where_wished.note", n=r["died_wish_known"], unknown=r["died_wish_unknown"])
        for r in (table.row(g) for g in groups)
    ]  # fmt: skip
    ax.bar_label(bars, notes, padding=3)
    ax.set_xticks(range(len(groups)), [t(f"reports.group.{g}") for g in groups])
    ax.set_ylim(0, 1.15)
    ax.set_ylabel(t("reports.chart.died_where_wished.y"))
    ax.set_title(t("reports.chart.died_where_wished.title"))


_DRAW = {
    "heatmap": _heatmap,
    "answer_times": _answer_times,
    "escalation": _escalation,
    "died_where_wished": _died_where_wished,
}


def render(report: Report, name: str, fmt: str, t: Translate) -> bytes:
    """The chart ``name`` of ``report`` as ``fmt`` (svg or png) bytes, labelled through ``t``."""
    assert name in _DRAW, name
    assert fmt in FORMATS, fmt
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    FigureCanvasAgg(fig)  # the Agg canvas: no display, whatever the environment says
    ax = fig.subplots()
    _DRAW[name](report, fig, ax, t)
    subtitle = t("reports.chart.period", start=report.filter.start.isoformat(),
                 end=report.filter.end.isoformat(), n=report.episodes)  # fmt: skip
    fig.suptitle(subtitle, fontsize="small", color="#555555")
    out = io.BytesIO()
    # No creation date in the file, and fixed SVG ids: the same report gives the same bytes.
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    with matplotlib.rc_context({"svg.hashsalt": "advice-line", "svg.fonttype": "none"}):
        fig.savefig(out, format=fmt, metadata=metadata, dpi=100)
    return out.getvalue()
