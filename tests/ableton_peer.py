"""The AbletonOSC peer (../shared/abletonosc_peer) as a subprocess for tests: the real, unmodified AbletonOSC on a
simulated Live, on free ports, with its event log of every clip launch and note played."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
RUN_PEER = SHARED / "abletonosc_peer" / "run_peer.py"
FORK = SHARED / "vendor" / "forks" / "smithclay" / "AbletonOSC"
NO_PEER = f"needs ../shared: the AbletonOSC peer is not at {RUN_PEER}"
"""The reason every test that needs ``../shared`` skips with (``conftest`` counts them at the end of the run)."""


def need_peer() -> None:
    """Skip the calling test, with ``NO_PEER``, on a clone with no ``../shared`` beside it."""
    if not RUN_PEER.exists():
        pytest.skip(NO_PEER)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Peer:
    """One peer process; ``restart`` brings a fresh Live back on the same port (a crashed and restarted Live)."""

    def __init__(self, event_log: Path, *, fork: bool = False, tick_ms: float = 20, clock_ms: float = 10, **extra: Any):
        need_peer()
        self.event_log = event_log
        self.fork = fork
        self.tick_ms, self.clock_ms, self.extra = tick_ms, clock_ms, extra
        self.reply_port = free_udp_port()
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> Peer:
        args = [sys.executable, str(RUN_PEER), "--port", str(self.port), "--reply-port", str(self.reply_port)]
        args += ["--tick-ms", str(self.tick_ms), "--clock-ms", str(self.clock_ms), "--event-log", str(self.event_log)]
        if self.fork:
            args += ["--abletonosc", str(FORK)]
        for key, value in self.extra.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if ready:
                line = self.proc.stdout.readline()
                if line.startswith("READY"):
                    fields = dict(part.split("=", 1) for part in line.split()[1:])
                    self.port = int(fields["listen"].rsplit(":", 1)[1])
                    return self
                if not line:
                    break
        self.stop()
        raise RuntimeError(f"the peer did not start: {self.proc.stderr.read()[-800:] if self.proc.stderr else ''}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc is not None:
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()

    def kill(self) -> None:
        """Like Live crashing: no goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def events(self) -> list[dict[str, Any]]:
        if not self.event_log.exists():
            return []
        return [json.loads(line) for line in self.event_log.read_text().splitlines() if line.strip()]


@pytest.fixture
def peer_factory(tmp_path: Path):
    need_peer()  # at set-up: a skip raised inside a trio test loses its reason
    peers: list[Peer] = []

    def make(**options: Any) -> Peer:
        peer = Peer(tmp_path / f"peer{len(peers)}.jsonl", **options)
        peers.append(peer)
        return peer.start()

    yield make
    for peer in peers:
        peer.stop()
