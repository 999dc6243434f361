"""Benchmark of the rota core against the product's targets.

Builds 30 rotas across the three tiers (base weekly rotations of 4-8 clinicians with day,
evening, night and weekend layers on top), a year of shifts and 500 overrides, then measures:

* ``TierIndex.build`` for each tier over the year;
* on-duty lookups through ``TierIndex.on_duty`` at 100,000 random instants after warm-up
  (p50/p99/max, ``time.perf_counter_ns`` around each call); target p99 <= 100 us;
* a year of coverage gaps for one tier, best of 5, from the index and computed from scratch
  with ``rota.resolve.coverage_gaps``; target <= 100 ms.

Run: ``/tmp/venv/bin/python bench/rota_bench.py`` (``--lookups N`` and ``--seed S`` to vary).
Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rota.index import TierIndex
from rota.model import Layer, Override, OverrideKind, Rota, Unit, Window
from rota.resolve import coverage_gaps, on_duty
from rota.tiers import TIERS

UTC = dt.UTC
YEAR_START = dt.datetime(2026, 1, 1, tzinfo=UTC)
YEAR_END = dt.datetime(2027, 1, 1, tzinfo=UTC)
EVERY_DAY = frozenset(range(7))
WEEKDAYS = frozenset(range(5))
LOOKUP_TARGET_US = 100
GAPS_TARGET_MS = 100


def _layer(
    rng: random.Random, id: int, name: str, pool: list[int], unit: Unit, handoff: str, windows: tuple[Window, ...]
) -> Layer:  # fmt: skip
    size = rng.randint(4, min(8, len(pool)))
    return Layer(
        id=id,
        name=name,
        participants=tuple(rng.sample(pool, size)),
        shift_length=1,
        unit=unit,
        handoff=dt.time.fromisoformat(handoff),
        start_date=dt.date(2025, 12, 29),
        windows=windows,
    )


def build_rota(rng: random.Random, rota_id: int, tier: str, pool: list[int]) -> Rota:
    """A realistic rota: a weekly base, then day, evening and night layers, maybe weekends."""
    day = Window(WEEKDAYS, dt.time(8), dt.time(16))
    evening = Window(EVERY_DAY, dt.time(16), dt.time(22))
    night = Window(EVERY_DAY, dt.time(22), dt.time(8))
    weekend = Window(frozenset({5, 6}), dt.time(8), dt.time(20))
    layers = [
        _layer(rng, 1, "base", pool, Unit.WEEKS, "08:00", ()),
        _layer(rng, 2, "days", pool, Unit.DAYS, "08:00", (day,)),
        _layer(rng, 3, "evenings", pool, Unit.DAYS, "16:00", (evening,)),
        _layer(rng, 4, "nights", pool, Unit.DAYS, "22:00", (night,)),
    ]
    if rng.random() < 0.5:
        layers.append(_layer(rng, 5, "weekends", pool, Unit.WEEKS, "08:00", (weekend,)))
    if tier == "specialist":
        layers = layers[1:3]  # weekday days and evenings only: nights and weekend days are gaps
    return Rota(rota_id, f"{tier} {rota_id}", tier, layers=tuple(layers))


def add_overrides(rng: random.Random, rotas: list[Rota], count: int, pool: dict[str, list[int]]) -> list[Rota]:  # fmt: skip
    """Spread ``count`` overrides of 2-24 hours over the rotas and the year."""
    extra: dict[int, list[Override]] = {rota.id: [] for rota in rotas}
    for override_id in range(1, count + 1):
        rota = rng.choice(rotas)
        start = YEAR_START + dt.timedelta(minutes=15 * rng.randrange(365 * 96))
        end = start + dt.timedelta(hours=rng.randint(2, 24))
        kind = rng.choice([OverrideKind.REPLACE, OverrideKind.REPLACE, OverrideKind.ADD])
        clinician = rng.choice(pool[rota.tier])
        extra[rota.id].append(Override(override_id, clinician, start, end, kind))
    return [
        Rota(r.id, r.name, r.tier, r.timezone, r.layers, tuple(extra[r.id]), r.swaps) for r in rotas
    ]


def build_rotas(seed: int) -> list[Rota]:
    rng = random.Random(seed)
    pool = {tier: list(range(100 * n + 1, 100 * n + 41)) for n, tier in enumerate(TIERS, 1)}
    rotas = [build_rota(rng, i, TIERS[i % 3], pool[TIERS[i % 3]]) for i in range(30)]
    return add_overrides(rng, rotas, 500, pool)


def best_of(runs: int, action: Callable[[], object]) -> float:
    """The fastest of ``runs`` runs of ``action``, in milliseconds."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter_ns()
        action()
        timings.append((time.perf_counter_ns() - started) / 1e6)
    return min(timings)


def percentile(sorted_values: list[int], fraction: float) -> int:
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lookups", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20260329)
    args = parser.parse_args()

    rotas = build_rotas(args.seed)
    print(f"{len(rotas)} rotas, {sum(len(r.layers) for r in rotas)} layers, "
          f"{sum(len(r.overrides) for r in rotas)} overrides, {YEAR_START:%Y-%m-%d} .. {YEAR_END:%Y-%m-%d}")  # fmt: skip

    tier = "specialist"
    started = time.perf_counter_ns()
    coverage_gaps(rotas, tier, YEAR_START, YEAR_END)
    cold_ms = (time.perf_counter_ns() - started) / 1e6
    print(f"a year of coverage gaps for {tier}, first call in the process: {cold_ms:.1f} ms")

    indexes: dict[str, TierIndex] = {}
    for tier in TIERS:
        started = time.perf_counter_ns()
        indexes[tier] = TierIndex.build(rotas, tier, YEAR_START, YEAR_END)
        build_ms = (time.perf_counter_ns() - started) / 1e6
        print(f"build {tier:<13} {build_ms:8.1f} ms  ({len(indexes[tier].segments)} segments)")

    rng = random.Random(args.seed + 1)
    span_us = (YEAR_END - YEAR_START) // dt.timedelta(microseconds=1)
    questions = [
        (indexes[rng.choice(TIERS)], YEAR_START + dt.timedelta(microseconds=rng.randrange(span_us)))
        for _ in range(args.lookups)
    ]
    for index, at in questions[:10_000]:  # warm-up
        index.on_duty(at)
    latencies = []
    clock = time.perf_counter_ns
    for index, at in questions:
        started = clock()
        index.on_duty(at)
        latencies.append(clock() - started)
    latencies.sort()
    p50, p99 = percentile(latencies, 0.50) / 1000, percentile(latencies, 0.99) / 1000
    print(f"on_duty via TierIndex, {len(latencies)} lookups: p50 {p50:.2f} us, p99 {p99:.2f} us, "
          f"max {latencies[-1] / 1000:.1f} us, mean {statistics.fmean(latencies) / 1000:.2f} us")  # fmt: skip

    direct = []
    for _, at in questions[:300]:
        started = clock()
        on_duty(rotas, "gp", at)
        direct.append(clock() - started)
    direct.sort()
    print(f"on_duty from scratch (rota.resolve, for comparison), 300 lookups: "
          f"p50 {percentile(direct, 0.5) / 1000:.0f} us, p99 {percentile(direct, 0.99) / 1000:.0f} us")  # fmt: skip

    index_ms = best_of(5, lambda: indexes[tier].gaps(YEAR_START, YEAR_END))
    scratch_ms = best_of(5, lambda: coverage_gaps(rotas, tier, YEAR_START, YEAR_END))
    found = len(indexes[tier].gaps(YEAR_START, YEAR_END))
    print(f"a year of coverage gaps for {tier} ({found} gaps), best of 5: "
          f"from scratch (rota.resolve) {scratch_ms:.1f} ms, from the index {index_ms:.3f} ms")  # fmt: skip

    ok = p99 <= LOOKUP_TARGET_US and scratch_ms <= GAPS_TARGET_MS
    print(f"targets: lookup p99 <= {LOOKUP_TARGET_US} us, gaps <= {GAPS_TARGET_MS} ms: "
          f"{'met' if ok else 'MISSED'}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
