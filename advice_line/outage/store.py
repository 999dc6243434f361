"""Consultations routed during a database outage, held in Redis until they are handed back.

Each is one hash: ``v``, its version, and ``record``, everything about it as JSON (the
machine state, ISBAR, who asked, the whole timeline and the live timers). A step is stored
with one script that applies only if the version is still the one the step decided on, the
same guard as ``consultations.store_step``: two nodes accepting at once, or firing the same
timer, cannot both win. Timers are members ``id|kind|seq`` of one sorted set scored by due
time; a step replaces its consultation's members in the same script.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from advice_line.redis_keys import RedisKeys

_STORE = """
local current = redis.call('HGET', KEYS[1], 'v')
if ARGV[1] == '' then
  if current then return 0 end
elseif current ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'record', ARGV[3])
redis.call('SADD', KEYS[3], ARGV[4])
if ARGV[7] == '1' then redis.call('SADD', KEYS[4], ARGV[4]) else redis.call('SREM', KEYS[4], ARGV[4]) end
for _, member in ipairs(cjson.decode(ARGV[5])) do redis.call('ZREM', KEYS[2], member) end
for _, pair in ipairs(cjson.decode(ARGV[6])) do redis.call('ZADD', KEYS[2], pair[1], pair[2]) end
return 1
"""

_FORGET = """
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[3], ARGV[2])
redis.call('SREM', KEYS[4], ARGV[2])
for _, member in ipairs(cjson.decode(ARGV[3])) do redis.call('ZREM', KEYS[2], member) end
return 1
"""


#: States a consultation does not leave.
CLOSED = ("ended", "cancelled", "abandoned", "failed")


def timer_member(consultation_id: int, kind: str, seq: int) -> str:
    return f"{consultation_id}|{kind}|{seq}"


def parse_member(member: str) -> tuple[int, str, int]:
    consultation_id, kind, seq = member.split("|")
    return int(consultation_id), kind, int(seq)


def stamp(record: dict[str, Any]) -> str:
    """What a step compares: the version, marked while the record is being handed back (so
    no step can be stored on it meanwhile)."""
    return f"{record['version']}{'m' if record.get('moving') else ''}"


def members_of(record: dict[str, Any]) -> list[str]:
    """The timer members a record holds (one live timer per kind)."""
    return [timer_member(record["id"], k, seq) for k, (seq, _due) in record["timers"].items()]


@dataclass
class OutageStore:
    redis: Redis
    keys: RedisKeys

    def __post_init__(self) -> None:
        self._store = self.redis.register_script(_STORE)
        self._forget = self.redis.register_script(_FORGET)

    async def get(self, consultation_id: int) -> dict[str, Any] | None:
        raw = await self.redis.hget(self.keys.outage_consultation(consultation_id), "record")
        return None if raw is None else dict(json.loads(raw))

    async def ids(self) -> list[int]:
        return sorted(int(i) for i in await self.redis.smembers(self.keys.outage_consultations))

    async def all(self) -> list[dict[str, Any]]:
        """Every consultation held (open or closed, not yet handed back), oldest first."""
        return await self._read(await self.ids())

    async def open(self) -> list[dict[str, Any]]:
        """The held consultations still open (what routing and the lists look at)."""
        return await self._read(
            sorted(int(i) for i in await self.redis.smembers(self.keys.outage_open))
        )

    async def _read(self, ids: list[int]) -> list[dict[str, Any]]:
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for consultation_id in ids:
                pipe.hget(self.keys.outage_consultation(consultation_id), "record")
            found = await pipe.execute()
        return [json.loads(raw) for raw in found if raw is not None]

    async def put(self, record: dict[str, Any], before: dict[str, Any] | None) -> bool:
        """Store ``record`` if the held one is still ``before`` (its version; None: create
        it); its timers replace the ones ``before`` had."""
        dropped = members_of(before) if before else []
        added = [[due, timer_member(record["id"], kind, seq)]
                 for kind, (seq, due) in record["timers"].items()]  # fmt: skip
        stored = await self._store(
            keys=[self.keys.outage_consultation(record["id"]), self.keys.outage_timers,
                  self.keys.outage_consultations, self.keys.outage_open],
            args=["" if before is None else stamp(before), stamp(record),
                  json.dumps(record, default=str), record["id"], json.dumps(dropped),
                  json.dumps(added), "0" if record["machine"]["state"] in CLOSED else "1"],
        )  # fmt: skip
        return bool(stored)

    async def forget(self, record: dict[str, Any]) -> bool:
        """Drop a handed-back record (marked ``moving``), if it is still as written back."""
        forgotten = await self._forget(
            keys=[self.keys.outage_consultation(record["id"]), self.keys.outage_timers,
                  self.keys.outage_consultations, self.keys.outage_open],
            args=[stamp(record), record["id"], json.dumps(members_of(record))],
        )  # fmt: skip
        return bool(forgotten)

    async def due(self, now_ms: int, limit: int = 50) -> list[tuple[int, str, int]]:
        members = await self.redis.zrangebyscore(
            self.keys.outage_timers, "-inf", now_ms, start=0, num=limit
        )
        return [parse_member(str(m)) for m in members]
