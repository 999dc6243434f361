"""The spool: each record on disk before append returns, torn tails skipped, cut safely."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from advice_line.outage.spool import Spool, orphan, read_lines, spool_files


async def test_records_come_back_in_order_after_the_node_is_gone(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "node-a")
    spool.open()
    for n in range(3):
        await spool.append({"n": n, "text": "æøå"})
    spool.close()
    assert read_lines(tmp_path / "node-a.spool") == [{"n": 0, "text": "æøå"}, {"n": 1, "text": "æøå"},
                                                     {"n": 2, "text": "æøå"}]  # fmt: skip


async def test_a_line_torn_by_a_crash_is_skipped(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "node-a")
    spool.open()
    await spool.append({"n": 1})
    spool.close()
    with (tmp_path / "node-a.spool").open("ab") as handle:
        handle.write(b'{"n": 2, "unfinis')
    assert read_lines(tmp_path / "node-a.spool") == [{"n": 1}]


def test_an_append_that_returned_survives_the_process_being_killed(tmp_path: Path) -> None:
    script = (
        "import asyncio, os, signal, sys\n"
        "from pathlib import Path\n"
        "from advice_line.outage.spool import Spool\n"
        "async def main():\n"
        "    spool = Spool(Path(sys.argv[1]), 'doomed')\n"
        "    spool.open()\n"
        "    await spool.append({'acknowledged': True})\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=False)
    assert done.returncode == -9
    assert read_lines(tmp_path / "doomed.spool") == [{"acknowledged": True}]


async def test_cutting_keeps_what_was_appended_after_the_read(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "node-a")
    spool.open()
    await spool.append({"n": 1})
    await spool.append({"n": 2})
    end = spool.size()
    await spool.append({"n": 3})
    await spool.truncate(end)
    await spool.append({"n": 4})
    assert read_lines(spool.path) == [{"n": 3}, {"n": 4}]
    spool.close()


async def test_only_a_spool_no_running_node_holds_is_an_orphan(tmp_path: Path) -> None:
    mine = Spool(tmp_path, "alive")
    mine.open()
    dead = Spool(tmp_path, "dead")
    dead.open()
    await dead.append({"n": 1})
    dead.close()  # the node is gone; its lock with it
    assert [p.name for p in spool_files(tmp_path)] == ["alive.spool", "dead.spool"]
    with orphan(tmp_path / "alive.spool") as ours:
        assert not ours
    with orphan(tmp_path / "dead.spool") as ours:
        assert ours
    mine.close()
    assert (tmp_path / "dead.spool").stat().st_size > 0  # replayed, then deleted, by the watch


async def test_appends_at_once_share_one_write_and_keep_their_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "busy")
    spool.open()
    writes: list[int] = []
    real_write = spool._write

    def counted(data: bytes) -> None:
        writes.append(data.count(b"\n"))
        real_write(data)

    spool._write = counted  # type: ignore[method-assign]
    await asyncio.gather(*(spool.append({"n": n}) for n in range(50)))
    spool.close()
    assert read_lines(tmp_path / "busy.spool") == [{"n": n} for n in range(50)]
    assert sum(writes) == 50 and len(writes) < 50  # grouped: fewer fsyncs than records
