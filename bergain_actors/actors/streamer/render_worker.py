"""The render worker: a child process that renders an offline set's bars while the set's process runs its actors.

Why a process: an offline set (``run --fast``) is one thread of Python, and rendering holds the GIL (a thread beside
the set's gained no wall time). In a process of its own, the renderer works on bar N+1 while the set's actors
decide on bar N, on the machine's other core; the set's process then holds no renderer, no mix buffers, no cached
copies of samples.

The worker is the same ``Renderer`` fed the same plans in the same order, so its bars are the same bytes. The set
sends a bar's plan once it is planned (at most ``SLOTS`` bars ahead of the bar being played); the worker answers each
with what it skipped and leaves the bar as mixed (float32 frames) in a slot of memory shared with the set (a memfd,
bar N in slot N mod ``SLOTS``), where the set masters it (``Mastering``: the limiter, whose state goes from bar to
bar), hears it, checksums it and makes the WAV's 16-bit samples of it: work that balances the two processes (the
mix is the larger part). The set reads a slot before it sends the plan that
reuses it.

Protocol, both ways: ``u32 length`` then a msgpack message. Set → worker: ``Render``; end of input: exit. Worker →
set: ``Ready`` first, then ``Done`` per bar, or ``Failed`` (and it exits). A worker that exits, fails or says nothing
for ``RenderWorker.SILENCE_S`` is given up on: the streamer renders in the set's process from that bar on, after
rendering the bars before it again (its state is a function of the plans so far), so the bytes stay the same.
"""

from __future__ import annotations

import argparse
import contextlib
import mmap
import os
import resource
import select
import signal
import struct
import subprocess
import sys
from pathlib import Path

import msgspec
import numpy as np

from bergain_actors.music.plan import BarPlan

HEADER = struct.Struct("<I")


class Render(msgspec.Struct, tag=True):
    bar: int
    plan: BarPlan


class Ready(msgspec.Struct, tag=True):
    pack_hash: str


class Done(msgspec.Struct, tag=True):
    bar: int
    frames: int
    skipped_layers: int
    skipped_hits: int


class Failed(msgspec.Struct, tag=True):
    reason: str


_to_worker = msgspec.msgpack.Decoder(Render)
_from_worker = msgspec.msgpack.Decoder(Ready | Done | Failed)
_encode = msgspec.msgpack.Encoder().encode


class Slots:
    """The shared bars: ``count`` slots of ``capacity`` float32 stereo frames."""

    def __init__(self, memory: mmap.mmap, count: int, capacity: int) -> None:
        self.memory, self.count, self.capacity = memory, count, capacity

    @staticmethod
    def size(count: int, capacity: int) -> int:
        return count * capacity * 8

    def floats(self, bar: int, frames: int) -> np.ndarray:
        return np.ndarray((frames, 2), np.float32, buffer=self.memory, offset=(bar % self.count) * self.capacity * 8)


class RenderWorker:
    """The set's side: starts the worker, sends it plans, takes its bars."""

    SLOTS = 4
    """Bars in the shared memory: the worker renders at most this many bars ahead of the one being played."""
    CAPACITY_S = 16.0
    """The longest bar a slot holds, in seconds (a 4/4 bar at 15 BPM); only the frames written take memory."""
    SILENCE_S = 60.0
    """A worker that says nothing this long (its start, a cold bar on a loaded machine: seconds) is given up on."""

    def __init__(self, process: subprocess.Popen[bytes], slots: Slots) -> None:
        self.process = process
        self.slots = slots
        self.pack_hash = ""
        """The set's pack (its content hash), which the worker must have decoded too."""
        self.usage: resource.struct_rusage | None = None
        """The worker's CPU time and peak RSS, once it has ended."""
        self._buffer = bytearray()

    @classmethod
    def start(cls, pack_root: Path, sample_rate: int, bpm: float, beats: int) -> RenderWorker | str:
        """A worker rendering from the pack at ``pack_root``, or why there is none (no memfd off Linux). The set
        says which pack it decoded (``pack_hash``) before it asks for a bar."""
        if not hasattr(os, "memfd_create"):
            return "no shared memory (memfd) on this system"
        if len(os.sched_getaffinity(0)) < 2:  # two processes on one core: the same work and more switching
            return "one core to run on"
        capacity = int(cls.CAPACITY_S * sample_rate)
        fd = os.memfd_create("bergain-bars")
        try:
            os.ftruncate(fd, Slots.size(cls.SLOTS, capacity))
            memory = mmap.mmap(fd, Slots.size(cls.SLOTS, capacity))
            argv = [sys.executable, "-m", "bergain_actors.actors.streamer.render_worker", str(pack_root)]
            argv += [str(sample_rate), repr(bpm), str(beats), str(fd), str(cls.SLOTS), str(capacity)]
            process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, pass_fds=(fd,))
        finally:
            os.close(fd)
        return cls(process, Slots(memory, cls.SLOTS, capacity))

    def send(self, bar: int, plan: BarPlan) -> bytes:
        """Ask for bar ``bar`` (the worker renders bars in the order asked); returns the message, which renders it
        again (``plan_of``). A worker that takes nothing for ``SILENCE_S`` raises ``WorkerLost``."""
        message = _encode(Render(bar, plan))
        assert self.process.stdin is not None
        fd = self.process.stdin.fileno()
        view = memoryview(HEADER.pack(len(message)) + message)
        while view:
            if not select.select([], [fd], [], self.SILENCE_S)[1]:
                raise WorkerLost(f"the render worker took no plan for {self.SILENCE_S:g} s")
            try:
                view = view[os.write(fd, view) :]
            except OSError as exc:
                raise WorkerLost(f"the render worker is gone ({exc.strerror})") from None
        return message

    def take(self, bar: int) -> Done:
        """The worker's answer for bar ``bar`` (asked for before any later bar); raises ``WorkerLost``."""
        while True:
            message = _from_worker.decode(self._receive())
            if isinstance(message, Failed):
                raise WorkerLost(f"the render worker failed: {message.reason}")
            if isinstance(message, Ready):
                if message.pack_hash != self.pack_hash:
                    raise WorkerLost("the render worker decoded another pack than the set (changed on disk?)")
                continue
            if message.bar != bar:
                raise WorkerLost(f"the render worker answered bar {message.bar} for bar {bar}")
            return message

    def _receive(self) -> bytes:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while len(self._buffer) < HEADER.size or len(self._buffer) < HEADER.size + HEADER.unpack_from(self._buffer)[0]:
            if not select.select([fd], [], [], self.SILENCE_S)[0]:
                raise WorkerLost(f"the render worker said nothing for {self.SILENCE_S:g} s")
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                self._reap()
                raise WorkerLost(f"the render worker exited (code {self.process.returncode})")
            self._buffer += chunk
        size = HEADER.unpack_from(self._buffer)[0]
        message = bytes(self._buffer[HEADER.size : HEADER.size + size])
        del self._buffer[: HEADER.size + size]
        return message

    def close(self) -> None:
        """End the worker: it exits at the end of its input (one still there after 5 s is killed)."""
        stdin, stdout = self.process.stdin, self.process.stdout
        if stdin is not None and stdout is not None and not stdin.closed:
            with contextlib.suppress(OSError):
                stdin.close()
                while select.select([stdout], [], [], 5.0)[0] and os.read(stdout.fileno(), 1 << 20):
                    pass  # its output ends as it exits
        self.kill()

    def kill(self) -> None:
        """End the worker now (given up on); harmless when it has ended."""
        if self.process.returncode is None:
            os.kill(self.process.pid, signal.SIGKILL)  # not Popen.kill: its poll would reap the worker unmeasured
            self._reap()
        self._close_pipes()

    def _reap(self) -> None:
        """Wait for the worker's end and keep what it used (``usage``)."""
        if self.process.returncode is None:
            try:
                _, status, self.usage = os.wait4(self.process.pid, 0)
                self.process.returncode = os.waitstatus_to_exitcode(status)
            except ChildProcessError:  # reaped elsewhere
                self.process.returncode = -1

    def _close_pipes(self) -> None:
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


class WorkerLost(Exception):
    """The render worker cannot go on; the message says why."""


def plan_of(message: bytes) -> BarPlan:
    """The plan a ``send`` message asked for."""
    return _to_worker.decode(message).plan


def serve(pack_root: Path, rate: int, bpm: float, beats: int, fd: int, count: int, capacity: int) -> int:
    """The worker: render the plans read on stdin, in order, into the shared slots."""
    from bergain_actors.music.pack import index_pack
    from bergain_actors.music.render import Renderer

    out = sys.stdout.buffer

    def say(message: Ready | Done | Failed) -> None:
        body = _encode(message)
        out.write(HEADER.pack(len(body)) + body)
        out.flush()

    try:
        slots = Slots(mmap.mmap(fd, Slots.size(count, capacity)), count, capacity)
        pack = index_pack(pack_root, rate, warn=lambda _: None, measure=False)  # the set said what it skipped
        renderer = Renderer(pack, rate)
        renderer.prepare(bpm, beats)
        say(Ready(pack.content_hash))
        source = sys.stdin.buffer
        while header := source.read(HEADER.size):
            asked = _to_worker.decode(source.read(HEADER.unpack(header)[0]))
            audio = renderer.render(asked.plan, into=slots.floats(asked.bar, capacity), master=False)
            say(Done(asked.bar, audio.shape[0], *renderer.last_skipped))
    except BrokenPipeError:  # the set ended first
        return 0
    except Exception as exc:
        with contextlib.suppress(OSError):
            say(Failed(f"{type(exc).__name__}: {exc}"))
        return 1
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, kind in (("pack", Path), ("rate", int), ("bpm", float), ("beats", int), ("fd", int)):
        parser.add_argument(name, type=kind)
    parser.add_argument("slots", type=int)
    parser.add_argument("capacity", type=int)
    args = parser.parse_args()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the set's to handle; the worker ends with its input
    sys.exit(serve(args.pack, args.rate, args.bpm, args.beats, args.fd, args.slots, args.capacity))


if __name__ == "__main__":
    main()
