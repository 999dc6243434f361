"""The demo rotas cover the first two tiers around the clock and show a specialist night gap."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from advice_line import demo, rota_store
from rota.resolve import coverage_gaps


async def test_demo_rotas_cover_nurses_and_gps_around_the_clock(db):
    await demo.seed(db)
    rotas = await rota_store.load_rotas(db)
    start = dt.datetime(2026, 3, 23, tzinfo=dt.UTC)  # a fortnight across the spring DST change
    end = start + dt.timedelta(days=14)
    assert coverage_gaps(rotas, "senior_nurse", start, end) == []
    assert coverage_gaps(rotas, "gp", start, end) == []
    copenhagen = ZoneInfo("Europe/Copenhagen")
    for gap in coverage_gaps(rotas, "specialist", start, end):
        opens, closes = gap.start.astimezone(copenhagen), gap.end.astimezone(copenhagen)
        assert gap.start == start or opens.time() in (dt.time(22), dt.time(18)), gap
        assert gap.end == end or closes.time() in (dt.time(8), dt.time(10)), gap
