"""OSC over UDP to AbletonOSC, on trio: one socket, pipelined queries, pushes handed on.

One UDP socket is bound to the reply port and every message is sent from it: upstream AbletonOSC replies to
``(sender IP, 11001)``, the smithclay fork to the sender's own port, so both reach us. Replies carry the address
of the query and echo its leading ids, so a query waits on ``(address, ids)`` and any number may be in flight at
once (AbletonOSC drains its socket once per ~100 ms tick; strict alternation would cost a tick per query). What is
not an awaited reply — ``/live/error``, ``/live/startup``, beats and listener values — goes to ``on_push``; an
"unknown address" error for an address being queried is that query's answer (``OscError`` kind ``unknown``).

python-osc only encodes and decodes; nothing here blocks: a send is a non-blocking ``sendto``, a query gives up
after its timeout and a bounded number of retries.
"""

from __future__ import annotations

import contextlib
import errno
import math
import socket
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from typing import Any

import trio
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket, ParseError

MAX_DATAGRAM = 9216
"""macOS's UDP limit (``net.inet.udp.maxdgram``): no datagram we send is larger."""

Arg = int | float | str | bool
Push = Callable[[str, tuple[Any, ...]], None]


class OscError(Exception):
    """Talking to AbletonOSC failed; ``kind`` is ``timeout``, ``bind`` (reply port taken) or ``unknown`` (an
    address this AbletonOSC does not have)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def encode(address: str, args: Sequence[Arg]) -> bytes:
    """One OSC message (ints as int32, floats as float32, bools as T/F: the types Live's bindings want)."""
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


def decode(datagram: bytes) -> list[tuple[str, tuple[Any, ...]]]:
    """Every message in a datagram (bundles flattened, in order); garbage decodes to nothing."""
    try:
        packet = OscPacket(datagram)
    except ParseError:
        return []
    return [(timed.message.address, tuple(timed.message.params)) for timed in packet.messages]


def chunk_notes(prefix: Sequence[Arg], notes: Sequence[tuple[Arg, ...]], limit: int = MAX_DATAGRAM) -> list[list[Arg]]:
    """Split ``prefix + notes`` argument lists so that no encoded ``/live/clip/add/notes`` exceeds ``limit`` bytes.
    A note costs at most 20 bytes of data and 5 of type tags; the rest is the address and prefix."""
    head = len(encode("/live/clip/add/notes", list(prefix))) + 8
    per_note = 25
    size = max(1, (limit - head) // per_note)
    out: list[list[Arg]] = []
    for start in range(0, len(notes), size):
        args: list[Arg] = list(prefix)
        for note in notes[start : start + size]:
            args.extend(note)
        out.append(args)
    return out


class OscClient:
    """A client of one AbletonOSC. Use inside ``async with OscClient(...)``: it binds and starts receiving."""

    def __init__(
        self,
        host: str,
        port: int,
        reply_port: int,
        *,
        bind_host: str = "",
        timeout: float = 1.0,
        retries: int = 2,
        on_push: Push | None = None,
    ) -> None:
        self.peer = (host, port)
        self.reply_port = reply_port
        self.bind_host = bind_host or ("127.0.0.1" if host in ("127.0.0.1", "localhost") else "0.0.0.0")
        self.timeout = timeout
        self.retries = retries
        self.on_push = on_push
        self.sent = 0
        self.received = 0
        self.retried = 0
        self._raw: socket.socket | None = None
        self._sock: trio.socket.SocketType | None = None
        self.local_port = 0
        self._waiters: dict[tuple[str, tuple[Any, ...]], deque[_Waiter]] = defaultdict(deque)
        self._nursery_cm: Any = None

    async def __aenter__(self) -> OscClient:
        raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        raw.setblocking(False)
        try:
            raw.bind((self.bind_host, self.reply_port))
        except OSError as exc:
            raw.close()
            if exc.errno == errno.EADDRINUSE:
                raise OscError(
                    "bind", f"reply port {self.reply_port} is taken by another program (another AbletonOSC client?)"
                ) from None
            raise OscError("bind", f"cannot bind the reply port {self.reply_port}: {exc}") from None
        self._raw = raw
        self._sock = trio.socket.from_stdlib_socket(raw)
        self.local_port = raw.getsockname()[1]
        self._nursery_cm = trio.open_nursery()
        nursery = await self._nursery_cm.__aenter__()
        nursery.start_soon(self._receive)
        self._nursery = nursery
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop receiving; an exception from the body propagates as itself (not wrapped in a group)."""
        self._nursery.cancel_scope.cancel()
        try:
            await self._nursery_cm.__aexit__(None, None, None)
        finally:
            if self._sock is not None:
                self._sock.close()

    # --- sending ----------------------------------------------------------------------------------------------------

    def send(self, address: str, *args: Arg) -> None:
        """Send one message now (no reply expected). Never waits: UDP either takes it or drops it."""
        assert self._sock is not None, "OscClient used outside its async with"
        data = encode(address, args)
        if len(data) > MAX_DATAGRAM:
            raise ValueError(f"{address}: {len(data)} bytes is over the {MAX_DATAGRAM}-byte datagram limit")
        # a full kernel buffer or nobody listening: a lost datagram, like any other UDP loss
        with contextlib.suppress(BlockingIOError, InterruptedError, ConnectionRefusedError):
            self._raw.sendto(data, self.peer)
        self.sent += 1

    async def query(
        self, address: str, *args: Arg, ids: int | None = None, timeout: float | None = None, retries: int | None = None
    ) -> tuple:
        """Send ``address args`` and wait for its reply; returns the reply's arguments after the echoed ids.
        ``ids`` leading args identify the reply (default: all of ``args``). Retries on timeout (a query only reads,
        so asking again is safe; pass ``retries=0`` for one that acts), then raises."""
        n = len(args) if ids is None else ids
        key = (address, _norm(args[:n]))
        attempts = (self.retries if retries is None else retries) + 1
        for attempt in range(attempts):
            waiter = _Waiter(self.sent)
            self._waiters[key].append(waiter)
            try:
                self.send(address, *args)
                with trio.move_on_after(timeout if timeout is not None else self.timeout):
                    await waiter.done.wait()
            finally:
                if not waiter.done.is_set():
                    self._waiters[key].remove(waiter)
                    if not self._waiters[key]:
                        del self._waiters[key]
            if waiter.error is not None:
                raise waiter.error
            if waiter.done.is_set():
                return waiter.value[n:]
            if attempt + 1 < attempts:
                self.retried += 1
        raise OscError("timeout", f"{address}: no answer from {self.peer[0]}:{self.peer[1]} after {attempts} tries")

    # --- receiving --------------------------------------------------------------------------------------------------

    async def _receive(self) -> None:
        assert self._sock is not None
        while True:
            try:
                data, _ = await self._sock.recvfrom(65536)
            except ConnectionRefusedError:
                continue  # ICMP port unreachable from an earlier send: nobody listens there (yet)
            for address, args in decode(data):
                self.received += 1
                self._dispatch(address, args)

    def _dispatch(self, address: str, args: tuple[Any, ...]) -> None:
        if address == "/live/error" and args and self._answers(str(args[0])):
            return
        for n in range(len(args), -1, -1):
            queue = self._waiters.get((address, _norm(args[:n])))
            if queue:
                waiter = queue.popleft()
                if not queue:
                    del self._waiters[(address, _norm(args[:n]))]
                waiter.value = args
                waiter.done.set()
                return
        if self.on_push is not None:
            self.on_push(address, args)

    def _answers(self, text: str) -> bool:
        """Whether a ``/live/error`` is the answer to a query waiting here (then that query raises it; it is no
        push). "Unknown OSC address: A" answers every query of A (a capability probe). "Error handling OSC
        message: E" answers the oldest query whose property E names (``'NoneType' object has no attribute
        'name'`` answers ``/live/clip/get/name`` of an empty slot): AbletonOSC handles one client's messages in
        order, so the oldest is the one Live had reached."""
        if text.startswith(_UNKNOWN):
            unknown = text[len(_UNKNOWN) :].strip()
            asked = [k for k in self._waiters if k[0] == unknown]
            for key in asked:
                for waiter in self._waiters.pop(key):
                    waiter.fail(OscError("unknown", f"{unknown}: this AbletonOSC does not offer it"))
            return bool(asked)
        if not text.startswith(_FAILED):
            return False
        named = [
            (queue[0].order, key)
            for key, queue in self._waiters.items()
            if queue and (f"'{key[0].rsplit('/', 1)[-1]}'" in text or f"_{key[0].rsplit('/', 1)[-1]}" in text)
        ]
        if not named:
            return False
        _, key = min(named)
        queue = self._waiters[key]
        queue.popleft().fail(OscError("live", f"{key[0]} {' '.join(map(str, key[1]))}: Live said {text[:200]}"))
        if not queue:
            del self._waiters[key]
        return True


_UNKNOWN = "Unknown OSC address:"
_FAILED = "Error handling OSC message:"


class _Waiter:
    __slots__ = ("done", "error", "order", "value")

    def __init__(self, order: int) -> None:
        self.done = trio.Event()
        self.order = order
        """When the query was sent, in the client's sends: an error answers the oldest it can."""
        self.value: tuple[Any, ...] = ()
        self.error: OscError | None = None

    def fail(self, error: OscError) -> None:
        self.error = error
        self.done.set()


def _norm(args: Sequence[Any]) -> tuple[Any, ...]:
    """Ids compare as ints whatever their OSC type (``2`` and ``2.0`` are the same track)."""
    return tuple(int(a) if isinstance(a, float) and math.isfinite(a) and a == int(a) else a for a in args)
