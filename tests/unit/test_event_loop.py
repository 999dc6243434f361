"""``advice-line serve`` runs on the event loop the settings name."""

from __future__ import annotations

import asyncio
import builtins
from typing import Any

import pytest

from advice_line.cli import _run


def loop_module(event_loop: str) -> str:
    seen: list[str] = []

    async def main() -> None:
        seen.append(type(asyncio.get_running_loop()).__module__)

    _run(main(), event_loop)
    return seen[0]


def test_uvloop_by_default_and_asyncio_when_asked():
    assert loop_module("uvloop").startswith("uvloop")
    assert loop_module("asyncio").startswith("asyncio")


def test_without_uvloop_installed_the_node_still_runs_on_asyncio(monkeypatch):
    real_import = builtins.__import__

    def no_uvloop(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "uvloop":
            raise ImportError("not installed here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvloop)
    assert loop_module("uvloop").startswith("asyncio")


@pytest.fixture(autouse=True)
def _fresh_policy():
    yield
    asyncio.set_event_loop_policy(None)
