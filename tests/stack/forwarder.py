"""A TCP forwarder the tests can cut: PostgreSQL "goes away" without touching the real one.

It runs its own event loop in a thread, so it keeps forwarding while a test blocks on a
subprocess. ``stop()`` drops every open connection and refuses new ones, as a stopped
server does; ``stall()`` accepts connections but never answers, as an overloaded or
partitioned one does.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")


class TcpForwarder:
    def __init__(self, target_host: str, target_port: int, listen_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.listen_host = listen_host
        self.port = 0  # chosen by the first start, kept across restarts
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._stalled = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def start(self) -> None:
        self._call(self._start(stalled=False))

    def stall(self) -> None:
        """Cut the open connections; accept new ones and leave them unanswered."""
        self._call(self._stop())
        self._call(self._start(stalled=True))

    def stop(self) -> None:
        """Refuse new connections and cut the open ones."""
        self._call(self._stop())

    def close(self) -> None:
        self.stop()
        self._call(self._settle())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self, *, stalled: bool) -> None:
        self._stalled = stalled
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._accept, self.listen_host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()
        if server is not None:
            await server.wait_closed()

    @staticmethod
    async def _settle() -> None:
        """End the connections' tasks, so none is destroyed pending with the loop."""
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _accept(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        if self._stalled:
            self._open.add(client)
            return
        try:
            upstream_reader, upstream = await asyncio.open_connection(*self.target)
        except OSError:
            client.transport.abort()
            return
        self._open.update((client, upstream))
        try:
            await asyncio.gather(
                self._pipe(client_reader, upstream), self._pipe(upstream_reader, client)
            )
        finally:
            for writer in (client, upstream):
                self._open.discard(writer)
                writer.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()


@contextlib.contextmanager
def forwarding(url: str, default_port: int) -> Iterator[tuple[TcpForwarder, str]]:
    """A started forwarder to the server ``url`` names, and ``url`` through it."""
    parts = urlsplit(url)
    forwarder = TcpForwarder(parts.hostname or "127.0.0.1", parts.port or default_port)
    forwarder.start()
    try:
        netloc = f"127.0.0.1:{forwarder.port}"
        if parts.username is not None:
            netloc = f"{parts.netloc.rpartition('@')[0]}@{netloc}"
        yield forwarder, parts._replace(netloc=netloc).geturl()
    finally:
        forwarder.close()
