"""Server-Sent Events: the set's events, in seq order, to every dashboard that listens.

``publish`` is a bus tap: synchronous and non-blocking. A client that cannot keep up (its queue is full) is
dropped at once, never waited for, so a stalled browser can never slow the bus or the audio. At the set's end
``finish`` closes every stream after its last event (``SetEnded``) and waits, briefly, until each has been sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import trio

from bergain_actors.core import events as ev

QUEUE = 256
"""Events a client may fall behind before it is dropped (a browser reconnects on its own)."""

_encode = msgspec.json.Encoder().encode


def event_json(event: ev.Event) -> bytes:
    """One event as the JSON a dashboard reads: its fields plus ``type``."""
    data = msgspec.to_builtins(event)
    data["type"] = type(event).__name__
    return _encode(data)


class EventStream:
    def __init__(self, queue: int = QUEUE) -> None:
        self.queue = queue
        self.clients: set[trio.MemorySendChannel[bytes]] = set()
        self.dropped = 0
        self.open_streams = 0
        """Streams still sending (a closed client's stream sends what it has queued first)."""
        self._sent = trio.Event()

    def publish(self, event: ev.Event) -> None:
        if not self.clients:
            return
        data = event_json(event)
        for client in list(self.clients):
            try:
                client.send_nowait(data)
            except trio.WouldBlock:
                self.clients.discard(client)
                client.close()
                self.dropped += 1
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                self.clients.discard(client)

    def close(self) -> None:
        """End every stream cleanly (lets a graceful shutdown finish at once)."""
        for client in list(self.clients):
            client.close()
        self.clients.clear()

    async def finish(self) -> None:
        """Close every stream and wait until each has sent what it had queued (the caller bounds the wait)."""
        self.close()
        if self.open_streams:
            await self._sent.wait()

    async def subscribe(self) -> AsyncIterator[bytes]:
        """SSE frames for one client, from now on, until it is dropped or disconnects."""
        send, receive = trio.open_memory_channel[bytes](self.queue)
        self.clients.add(send)
        self.open_streams += 1
        try:
            yield b": connected\n\n"
            async with receive:
                async for data in receive:
                    yield b"data: " + data + b"\n\n"
        finally:
            self.clients.discard(send)
            send.close()
            self.open_streams -= 1
            if not self.open_streams:
                self._sent.set()
                self._sent = trio.Event()
