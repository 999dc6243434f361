"""Presence is refreshed a slice at a time; every connection is in exactly one slice."""

from __future__ import annotations

from types import SimpleNamespace

from advice_line import keepalive


def connections(n: int) -> list:
    return [SimpleNamespace(id=i) for i in range(1, n + 1)]


def test_slices_are_about_slice_sized_and_never_none():
    assert keepalive.slice_count(0) == 1
    assert keepalive.slice_count(1) == 1
    assert keepalive.slice_count(keepalive.SLICE) == 1
    assert keepalive.slice_count(keepalive.SLICE + 1) == 2
    assert keepalive.slice_count(2000) == 10


def test_every_connection_is_refreshed_exactly_once_a_round():
    live = connections(2003)
    count = keepalive.slice_count(len(live))
    parts = [keepalive.in_slice(live, k, count) for k in range(count)]
    ids = sorted(c.id for part in parts for c in part)
    assert ids == [c.id for c in live]
    assert max(len(p) for p in parts) <= keepalive.SLICE + 1
