"""A seeded UDP proxy that drops a share of datagrams each way: what a loaded network does to OSC, made repeatable.

It sits between our client and the AbletonOSC peer and owns the peer's reply port: the client sends to ``port``,
the proxy forwards from the socket bound to ``peer_reply_port`` (so upstream's replies to that port and the fork's
replies to the sender both come back through it) and hands what comes back to whoever last sent to ``port``. Each
direction draws from its own ``random.Random`` seeded from ``seed``: the same seed drops the same datagrams of the
same sequence. Runs in a thread of its own (the set under test runs ``trio.run`` in the main thread).
"""

from __future__ import annotations

import contextlib
import random
import select
import socket
import threading


class LossyProxy:
    def __init__(self, peer_port: int, peer_reply_port: int, *, drop: float, seed: int) -> None:
        self.peer = ("127.0.0.1", peer_port)
        self.drop = drop
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.bind(("127.0.0.1", peer_reply_port))
        self.port = self.front.getsockname()[1]
        self.to_live = random.Random(f"{seed}:to-live")
        self.to_us = random.Random(f"{seed}:to-us")
        self.passed = {"to_live": 0, "to_us": 0}
        self.dropped = {"to_live": 0, "to_us": 0}
        self._client: tuple[str, int] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lossy-udp", daemon=True)

    def start(self) -> LossyProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.front.close()
        self.back.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.front, self.back], [], [], 0.1)  # 0.1 s: how soon stop() is seen
            for sock in ready:
                try:
                    data, sender = sock.recvfrom(65536)
                except OSError:
                    continue
                if sock is self.front:
                    self._client = sender
                    self._forward("to_live", self.to_live, self.back, data, self.peer)
                elif self._client is not None:
                    self._forward("to_us", self.to_us, self.front, data, self._client)

    def _forward(self, way: str, rng: random.Random, sock: socket.socket, data: bytes, to: tuple[str, int]) -> None:
        if rng.random() < self.drop:
            self.dropped[way] += 1
            return
        self.passed[way] += 1
        with contextlib.suppress(OSError):  # nobody listens there (yet): lost, like any datagram
            sock.sendto(data, to)


class SecondClient:
    """Another controller on the same Live: asks ``address`` every ``period`` seconds from its own socket. On the
    smithclay fork listener pushes go to whoever sent last, so this one takes most of them."""

    def __init__(self, port: int, *, address: str = "/live/song/get/*", period: float = 0.1) -> None:
        from bergain_actors.actors.ableton.osc import encode

        self.peer = ("127.0.0.1", port)
        self.datagram = encode(address, [])
        self.period = period
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.received = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="second-client", daemon=True)

    def send(self, address: str, *args: object) -> None:
        """One message from this client (e.g. stop the transport, set the tempo)."""
        from bergain_actors.actors.ableton.osc import encode

        with contextlib.suppress(OSError):
            self.sock.sendto(encode(address, list(args)), self.peer)  # type: ignore[arg-type]

    def start(self) -> SecondClient:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        self.sock.close()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            with contextlib.suppress(OSError):
                self.sock.sendto(self.datagram, self.peer)
            while select.select([self.sock], [], [], 0)[0]:
                with contextlib.suppress(OSError):
                    self.sock.recvfrom(65536)
                    self.received += 1
