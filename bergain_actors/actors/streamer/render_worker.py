"""The render worker: a child process that renders an offline set's bars while the set's process runs its actors.

Why a process: an offline set (``run --fast``) is one thread of Python, and rendering holds the GIL (a thread beside
the set's gained no wall time). In a process of its own, the renderer works on bar N+1 while the set's actors
decide on bar N, on the machine's other core; the set's process then holds no renderer, no mix buffers, no cached
copies of samples.

The worker is the same ``Renderer`` fed the same plans in the same order, from the very audio the set decoded (shared
memory: ``music/shared_audio.py``; the worker decodes nothing), so its bars are the same bytes. The set sends its
pack's layout first, then each bar's plan once it is planned (at most ``SLOTS`` bars ahead of the bar being played);
the worker answers each with what it skipped and leaves the bar as mixed (float32 frames) in a slot of memory shared
with the set (a memfd, bar N in slot N mod ``SLOTS``), where the set masters it (``Mastering``: the limiter, whose
state goes from bar to bar), hears it, checksums it and makes the WAV's 16-bit samples of it: work that balances the
two processes (the mix is the larger part). The set reads a slot before it sends the plan that reuses it.

Protocol, both ways: ``u32 length`` then a msgpack message. Set → worker: ``Pack``, then ``Render``s; end of input:
exit. Worker → set: ``Ready`` first, then ``Done`` per bar, or ``Failed`` (and it exits). A worker that exits, fails
or says nothing for ``RenderWorker.SILENCE_S`` is given up on: the streamer renders in the set's process from that
bar on, after rendering the bars before it again (its state is a function of the plans so far), so the bytes stay
the same.
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
from typing import BinaryIO

import msgspec
import numpy as np

from bergain_actors.music.pack import Sample, SamplePack
from bergain_actors.music.plan import BarPlan
from bergain_actors.music.shared_audio import SharedAudio

HEADER = struct.Struct("<I")


class Render(msgspec.Struct, tag=True):
    bar: int
    plan: BarPlan


class SharedSample(msgspec.Struct, array_like=True):
    """What the renderer needs of a sample besides its audio, and where that is in the shared memory."""

    id: str
    role: str
    is_loop: bool
    bpm: float | None
    bars: int | None
    offset: int
    frames: int


class Pack(msgspec.Struct, tag=True):
    """The set's decoded pack (its audio in the shared memory of ``size`` bytes) and its tempo, before any plan."""

    root: str
    sample_rate: int
    content_hash: str
    decoded_by: str
    size: int
    samples: list[SharedSample]
    bpm: float
    beats: int


class Ready(msgspec.Struct, tag=True):
    """The worker has mapped the pack and stretched its loops to the set's tempo."""


class Done(msgspec.Struct, tag=True):
    bar: int
    frames: int
    skipped_layers: int
    skipped_hits: int


class Failed(msgspec.Struct, tag=True):
    reason: str


_to_worker = msgspec.msgpack.Decoder(Pack | Render)
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

    def __init__(self, process: subprocess.Popen[bytes], slots: Slots, audio: SharedAudio) -> None:
        self.process = process
        self.slots = slots
        self.audio = audio
        """Where the set decodes its pack for the worker (``index_pack(shared=...)``), before ``share``."""
        self.usage: resource.struct_rusage | None = None
        """The worker's CPU time and peak RSS, once it has ended."""
        self._buffer = bytearray()

    @classmethod
    def start(cls, sample_rate: int) -> RenderWorker | str:
        """A worker for a set at ``sample_rate``, or why there is none (no memfd off Linux, one core). It starts
        at once (its imports beside the set's), and renders once the set has decoded its pack into ``audio`` and
        said so (``share``)."""
        if not hasattr(os, "memfd_create"):
            return "no shared memory (memfd) on this system"
        if len(os.sched_getaffinity(0)) < 2:  # two processes on one core: the same work and more switching
            return "one core to run on"
        capacity = int(cls.CAPACITY_S * sample_rate)
        fd = os.memfd_create("bergain-bars")
        audio = SharedAudio.create()
        try:
            os.ftruncate(fd, Slots.size(cls.SLOTS, capacity))
            memory = mmap.mmap(fd, Slots.size(cls.SLOTS, capacity))
            argv = [sys.executable, "-m", "bergain_actors.actors.streamer.render_worker"]
            argv += [str(fd), str(audio.fd), str(cls.SLOTS), str(capacity)]
            process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, pass_fds=(fd, audio.fd))
        except BaseException:
            audio.close()
            raise
        finally:
            os.close(fd)
        return cls(process, Slots(memory, cls.SLOTS, capacity), audio)

    def share(self, pack: SamplePack, bpm: float, beats: int) -> None:
        """Tell the worker the pack the set decoded into ``audio`` (all of it: a pack decoded before is written
        there now) and the set's tempo; raises ``WorkerLost``."""
        for sample in pack.samples.values():
            if sample.id not in self.audio.layout:
                self.audio.put(sample.id, sample.data)
        layout = self.audio.layout
        samples = [SharedSample(s.id, s.role, s.is_loop, s.bpm, s.bars, *layout[s.id]) for s in pack.samples.values()]
        told = Pack(
            str(pack.root), pack.sample_rate, pack.content_hash, pack.decoded_by, self.audio.size, samples, bpm, beats
        )
        self._say(told)
        self.audio.close()  # the worker has its own descriptor; the set's mapping (its views) stays

    def send(self, bar: int, plan: BarPlan) -> bytes:
        """Ask for bar ``bar`` (the worker renders bars in the order asked); returns the message, which renders it
        again (``plan_of``). A worker that takes nothing for ``SILENCE_S`` raises ``WorkerLost``."""
        return self._say(Render(bar, plan))

    def _say(self, said: Pack | Render) -> bytes:
        message = _encode(said)
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
        self.audio.close()

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
    asked = _to_worker.decode(message)
    assert isinstance(asked, Render)
    return asked.plan


def shared_pack(told: Pack, fd: int) -> SamplePack:
    """The set's pack over the shared memory at ``fd`` (unmeasured: a renderer needs none of a decision's
    measures)."""
    audio = SharedAudio(fd, told.size, {s.id: (s.offset, s.frames) for s in told.samples})
    root = Path(told.root)
    samples = {
        s.id: Sample(s.id, s.role, root / s.id, audio.view(s.id), s.is_loop, s.bpm, s.bars, 0.0, 0.0)
        for s in told.samples
    }
    audio.close()  # the mapping stays
    return SamplePack(root, told.sample_rate, samples, told.content_hash, decoded_by=told.decoded_by)


def serve(fd: int, audio_fd: int, count: int, capacity: int) -> int:
    """The worker: take the set's pack, then render the plans read on stdin, in order, into the shared slots."""
    from bergain_actors.music.render import Renderer

    out = sys.stdout.buffer

    def say(message: Ready | Done | Failed) -> None:
        body = _encode(message)
        out.write(HEADER.pack(len(body)) + body)
        out.flush()

    try:
        slots = Slots(mmap.mmap(fd, Slots.size(count, capacity)), count, capacity)
        source = sys.stdin.buffer
        told = _read(source)
        if told is None:
            return 0  # the set ended (or gave up on the worker) before it had a pack to render from
        if not isinstance(told, Pack):
            raise ValueError("the set sent a plan before its pack")
        renderer = Renderer(shared_pack(told, audio_fd), told.sample_rate)
        renderer.prepare(told.bpm, told.beats)
        say(Ready())
        while (asked := _read(source)) is not None:
            if not isinstance(asked, Render):
                raise ValueError("the set sent its pack twice")
            audio = renderer.render(asked.plan, into=slots.floats(asked.bar, capacity), master=False)
            say(Done(asked.bar, audio.shape[0], *renderer.last_skipped))
    except BrokenPipeError:  # the set ended first
        return 0
    except Exception as exc:
        with contextlib.suppress(OSError):
            say(Failed(f"{type(exc).__name__}: {exc}"))
        return 1
    return 0


def _read(source: BinaryIO) -> Pack | Render | None:
    """The set's next message; None at the end of its input."""
    header = source.read(HEADER.size)
    return _to_worker.decode(source.read(HEADER.unpack(header)[0])) if len(header) == HEADER.size else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("fd", "audio_fd", "slots", "capacity"):
        parser.add_argument(name, type=int)
    args = parser.parse_args()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the set's to handle; the worker ends with its input
    sys.exit(serve(args.fd, args.audio_fd, args.slots, args.capacity))


if __name__ == "__main__":
    main()
