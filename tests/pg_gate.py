"""A gate on the way to the real PostgreSQL: shut, the database cannot be reached (new
connections are refused and open ones drop, as when its host fails); open, it answers
again. The server behind it is the real one, untouched."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit


@dataclass
class PostgresGate:
    target_host: str
    target_port: int
    port: int = 0
    _server: asyncio.Server | None = None
    _pipes: set[asyncio.StreamWriter] = field(default_factory=set)

    @classmethod
    def for_url(cls, url: str) -> PostgresGate:
        parts = urlsplit(url)
        return cls(parts.hostname or "127.0.0.1", parts.port or 5432)

    def url(self, url: str) -> str:
        """``url`` with its host and port replaced by the gate's."""
        parts = urlsplit(url)
        user = (
            f"{parts.username}{':' + parts.password if parts.password else ''}@"
            if parts.username
            else ""
        )
        return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{self.port}"))

    async def open(self) -> PostgresGate:
        if self._server is not None:
            return self  # open already
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def shut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._pipes |= {writer, up_writer}

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
        self._pipes -= {writer, up_writer}
