"""The pure cores (rota/, escalation/, signalling/codec.py) do no I/O and read no clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE_FILES = sorted(
    [
        *(ROOT / "rota").rglob("*.py"),
        *(ROOT / "escalation").rglob("*.py"),
        ROOT / "signalling" / "codec.py",
        ROOT / "signalling" / "ice.py",
        ROOT / "advice_line" / "episodes" / "model.py",
        ROOT / "advice_line" / "episodes" / "facts.py",
        *(ROOT / "advice_line" / "evaluation").rglob("*.py"),
        *(ROOT / "advice_line" / "fees").rglob("*.py"),
    ]
)

FORBIDDEN_MODULES = frozenset({"asyncio", "aiohttp", "asyncpg", "redis", "aiortc", "websockets"})
#: Calls that read the clock; matched on the end of the dotted name (``dt.datetime.now``).
CLOCK_READS = (
    "time.time",
    "time.time_ns",
    "time.monotonic",
    "time.monotonic_ns",
    "datetime.now",
    "datetime.utcnow",
    "date.today",
)
CLOCK_FUNCTIONS = frozenset({"time", "time_ns", "monotonic", "monotonic_ns"})


def _dotted(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def impurities(source: str) -> list[str]:
    """What in ``source`` breaks purity: forbidden imports and clock reads, with line numbers."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_MODULES:
                    found.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            top = node.module.split(".")[0]
            if top in FORBIDDEN_MODULES:
                found.append(f"line {node.lineno}: from {node.module} import ...")
            elif top == "time":
                for alias in node.names:
                    if alias.name in CLOCK_FUNCTIONS:
                        found.append(f"line {node.lineno}: from time import {alias.name}")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name and any(name == c or name.endswith("." + c) for c in CLOCK_READS):
                found.append(f"line {node.lineno}: calls {name}()")
    return found


def test_the_pure_core_files_are_found() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in PURE_FILES}
    assert {"rota/__init__.py", "rota/tiers.py", "signalling/codec.py"} <= names
    assert "escalation/__init__.py" in names


@pytest.mark.parametrize(
    "path", PURE_FILES, ids=[p.relative_to(ROOT).as_posix() for p in PURE_FILES]
)
def test_pure_core_has_no_io_and_reads_no_clock(path: Path) -> None:
    assert impurities(path.read_text(encoding="utf-8")) == []


# The checker itself ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "snippet",
    [
        "import asyncio",
        "import aiohttp.web",
        "import asyncpg as pg",
        "from redis.asyncio import Redis",
        "from aiortc import RTCPeerConnection",
        "import websockets",
        "import time\nt = time.time()",
        "import time\nt = time.monotonic()",
        "from time import monotonic",
        "from datetime import datetime\nnow = datetime.now()",
        "import datetime as dt\nnow = dt.datetime.now(dt.UTC)",
        "import datetime\nnow = datetime.datetime.utcnow()",
        "from datetime import date\ntoday = date.today()",
        "def f():\n    import asyncio\n    return asyncio.sleep(0)",
    ],
)
def test_checker_catches_a_violation(snippet: str) -> None:
    assert impurities(snippet) != []


@pytest.mark.parametrize(
    "snippet",
    [
        "import datetime as dt\nfrom zoneinfo import ZoneInfo",
        "def on_duty(rotas, tier, at):\n    return at.astimezone(ZoneInfo('Europe/Copenhagen'))",
        "import json\nfrom dataclasses import dataclass",
        "from .tiers import Tier",
        "x = dt.datetime(2026, 3, 29, tzinfo=dt.UTC)",
        "# import asyncio\ns = 'time.time()'",
    ],
)
def test_checker_accepts_pure_code(snippet: str) -> None:
    assert impurities(snippet) == []


def test_checker_reports_the_line() -> None:
    assert impurities("x = 1\nimport asyncio\n") == ["line 2: import asyncio"]
