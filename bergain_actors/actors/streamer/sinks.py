"""Where rendered bars go: the WAV file (always) and, live, something that consumes audio at the speed of time.

A sink's ``play`` returns when the bar has been taken — that return is the live set's clock and its backpressure.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import select
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Protocol

import msgspec
import numpy as np
import structlog
import trio

from bergain_actors.actors.streamer.device_worker import HEADER, take_nice
from bergain_actors.core.fatal import SetCannotContinue
from bergain_actors.music.pcm import pcm16

log = structlog.get_logger("streamer")


class Played(msgspec.Struct, frozen=True):
    """What happened on the way out while the sink took one bar."""

    underflows: int = 0
    """Times the device ran dry, or flagged an xrun of ours (a callback of ours overran), since the previous bar."""
    xruns: int = 0
    """Of ``underflows``, those the device flagged (on JACK: the server's xrun notices)."""
    server_xruns: int = 0
    """Xruns the device flagged while our audio was there and no callback of ours overran: on JACK, the server's
    cycle (or our callback's thread) woken late by the host, not a gap of ours."""
    silent_ms: float = 0.0
    """Silence the listener heard instead of the set, in milliseconds."""
    lost: str = ""
    """Non-empty: the device stopped taking audio, and why; the set goes on clock-paced to the WAV."""
    resumed: str = ""
    """Non-empty: playback came back (on which device, at which rate) from this bar on."""
    anchor_frame: int = -1
    """When >= 0: the sink's frame ``anchor_frame`` (counting every frame handed to it) reaches the speakers at
    ``anchor_us`` µs on CLOCK_MONOTONIC_RAW (Link's clock on Linux). Reported when a device starts playing."""
    anchor_us: int = 0


class Sink(Protocol):
    name: str
    live: bool
    """Whether ``play`` is paced by a clock (then a late plan means a hold) or returns at once (offline)."""
    ahead: bool
    """Whether the next bar renders in a thread while this one plays: a device must never wait on a render. A
    clock of trio's own does not need it, and under a MockClock a thread would let virtual time jump ahead."""

    async def play(self, audio: np.ndarray) -> Played:
        """Hand one bar over; returns when it has been taken, with what went wrong on the way out."""
        ...

    def close(self) -> None: ...


class WavWriter:
    """Writes the set incrementally as 16-bit PCM: nothing grows in memory, and the header is valid after every bar.

    The samples are converted here (``pcm16``, the very bytes libsndfile wrote for the same audio, at a third of its
    cost) and go out with one ``write`` a bar. A write the disk cannot take ends the set (``SetCannotContinue``); at
    close the file is cut back to the last whole bar, which frees room for the log's last records and leaves a WAV
    every reader accepts."""

    failure: Exception | None = None
    """Always None: a write the disk refuses raises at once (``WavBehind`` keeps it for later)."""

    def __init__(self, path: Path, sample_rate: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.frames = 0
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        except OSError as exc:
            raise SetCannotContinue(f"cannot write the WAV {path}: {exc.strerror}") from None
        self._whole = 0
        """File size after the last whole bar."""
        self._torn = False
        try:
            _write_all(self._fd, wav_header(sample_rate, 0))
        except OSError as exc:
            self.close()
            raise SetCannotContinue(f"cannot write the WAV {path}: {exc.strerror}") from None
        self._whole = WAV_HEADER_BYTES

    def write(self, audio: np.ndarray) -> None:
        """One bar: float frames, or their 16-bit samples already made (``pcm16``)."""
        samples = (audio if audio.dtype == np.dtype("<i2") else pcm16(audio)).data.cast("B")
        try:
            _write_all(self._fd, samples)
            self._whole += samples.nbytes
            _count_bytes(self._fd, self._whole)
        except OSError as exc:
            self._torn = True
            raise SetCannotContinue(f"cannot write the WAV {self.path}: {exc.strerror}") from None
        self.frames += samples.nbytes // 4

    def close(self) -> None:
        if self._fd < 0:
            return
        fd, self._fd = self._fd, -1
        try:
            if self._torn:
                os.ftruncate(fd, self._whole)
                _count_bytes(fd, self._whole)
        finally:
            os.close(fd)


class WavBehind:
    """A ``WavWriter`` in a thread of its own, at most ``depth`` bars behind the set: converting a bar to 16 bits
    and writing it (a sixth of an offline set's time, most of it in ``os.write``, which lets go of the GIL) overlaps
    the next bar's work on the other core. Bars are written in the order they come; the WAV still never holds a bar
    the log lacks (it only lags further). A write the disk refused stops the set at the next ``write``
    (``SetCannotContinue``, as before, a bar later; any other error there is raised the same way); one refused after
    the last bar is ``failure`` after ``close``."""

    DEPTH = 4
    """Bars queued at most: the WAV lags the log by these, the one being written and the one being logged."""

    def __init__(self, writer: WavWriter, depth: int = DEPTH) -> None:
        self.writer = writer
        self.failure: Exception | None = None
        self._bars: queue.Queue[np.ndarray | None] = queue.Queue(depth)
        self._thread = threading.Thread(target=self._drain, name="wav-writer", daemon=True)
        self._thread.start()

    def write(self, audio: np.ndarray) -> None:
        """Queue one bar (``audio`` must not change afterwards); waits while ``depth`` bars are queued."""
        if self.failure is not None:
            raise self.failure
        self._bars.put(audio)

    def close(self) -> None:
        """Write what is queued, then close the file; a second close is harmless."""
        if self._thread.is_alive():
            self._bars.put(None)
            self._thread.join()
        self.writer.close()

    def _drain(self) -> None:
        while (audio := self._bars.get()) is not None:
            if self.failure is None:
                try:
                    self.writer.write(audio)
                except Exception as exc:  # raised in the set's thread: a queue nobody drains would hang it
                    self.failure = exc


WAV_HEADER_BYTES = 44


def wav_header(sample_rate: int, data_bytes: int) -> bytes:
    """The canonical 44-byte header of a 16-bit stereo PCM WAV, as libsndfile writes it."""
    fmt = struct.pack("<HHIIHH", 1, 2, sample_rate, sample_rate * 4, 4, 16)
    return (
        b"RIFF"
        + struct.pack("<I", data_bytes + 36)
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + (struct.pack("<I", data_bytes))
    )


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _count_bytes(fd: int, size: int) -> None:
    """Make the header's RIFF and data sizes count the file's first ``size`` bytes: after every whole bar, so a set
    killed outright (SIGKILL, power) leaves a WAV whose header holds exactly its whole bars (a bar torn by the kill
    lies past the data size, where no reader looks)."""
    riff, data = (min(0xFFFFFFFF, n) for n in (size - 8, size - WAV_HEADER_BYTES))  # past 4 GiB: as far as it counts
    os.pwrite(fd, struct.pack("<I", riff), 4)
    os.pwrite(fd, struct.pack("<I", data), 40)


class OfflineSink:
    """No device: bars are taken as fast as they are rendered (``--fast``, ``--no-audio``, no sound card)."""

    name = "file only"
    live = False
    ahead = False

    async def play(self, audio: np.ndarray) -> Played:
        await trio.lowlevel.checkpoint()  # let the log committer and observers breathe between bars
        return Played()

    def close(self) -> None:
        pass


class ClockSink:
    """Consumes audio at real speed on trio's clock, like a device with a ``period``-frame buffer. Under a
    MockClock it makes a live set run in virtual time: deadlines and holds behave exactly as on speakers."""

    name = "clock"
    live = True
    ahead = False

    def __init__(self, sample_rate: int, period: int = 1024) -> None:
        self.sample_rate = sample_rate
        self.period = period
        self._start: float | None = None
        self._frames = 0

    async def play(self, audio: np.ndarray) -> Played:
        await trio.sleep_until(self.advance(len(audio)))
        return Played()

    def advance(self, frames: int) -> float:
        """Count ``frames`` more; returns when everything counted has played but the last ``period`` frames."""
        if self._start is None:
            self._start = trio.current_time()
        self._frames += frames
        return self._start + max(0, self._frames - self.period) / self.sample_rate

    def close(self) -> None:
        pass


class Worker:
    """One device worker process (``device_worker``) and its pipes."""

    def __init__(self, wanted: str, sample_rate: int, margin: float) -> None:
        argv = [sys.executable, "-m", "bergain_actors.actors.streamer.device_worker", "--rate", str(sample_rate)]
        argv += ["--device", wanted, "--margin", str(margin)]
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # PortAudio and JACK chatter; the worker reports in JSON on stdout
            env={**os.environ, "JACK_NO_START_SERVER": "1"},  # never start an audio server behind the user's back
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._buffer = b""
        self._receive: trio.lowlevel.FdStream | None = None
        self._send: trio.lowlevel.FdStream | None = None
        self.sent = 0
        """Bars handed to this worker (the worker numbers them the same way)."""
        self.first_frame = -1
        """The sink's frame count when this worker got its first bar."""

    def hello(self, timeout: float) -> dict[str, Any]:
        """Before the set runs: the worker's first message (``ready`` or ``error``), blocking up to ``timeout``."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            readable, _, _ = select.select([fd], [], [], timeout)
            chunk = os.read(fd, 65536) if readable else b""
            if not chunk:
                return {"error": "the device worker did not answer" if not readable else "the device worker exited"}
            self._buffer += chunk
        return self._line()

    async def message(self) -> dict[str, Any] | None:
        """The worker's next message; None when it has exited."""
        if self._receive is None:
            assert self.process.stdout is not None
            self._receive = trio.lowlevel.FdStream(os.dup(self.process.stdout.fileno()))
        while b"\n" not in self._buffer:
            chunk = await self._receive.receive_some(65536)
            if not chunk:
                return None
            self._buffer += chunk
        return self._line()

    async def send(self, audio: np.ndarray) -> None:
        if self._send is None:
            assert self.process.stdin is not None
            self._send = trio.lowlevel.FdStream(os.dup(self.process.stdin.fileno()))
        data = np.ascontiguousarray(audio, dtype=np.float32)
        await self._send.send_all(HEADER.pack(len(data)) + data.tobytes())
        self.sent += 1

    def finish(self, timeout: float) -> None:
        """Let the worker play out what it has (the end marker), then make sure it is gone."""
        assert self.process.stdin is not None
        try:
            os.write(self.process.stdin.fileno(), HEADER.pack(0))
            self.process.wait(timeout)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self._receive, self._send):
            if stream is not None:
                stream.close()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def _line(self) -> dict[str, Any]:
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            return json.loads(line)
        except ValueError:
            return {"error": f"the device worker said {line[:200]!r}"}


SET_NICE = -10
"""The live set's own process where allowed: ahead of a browser or a build (nice 0), so the next bar (a new
section's cold loops: a few hundred ms of CPU) renders within the device's margin on a busy machine; behind the
device worker (SCHED_FIFO). Its LM child keeps its ``LIVE_NICE`` below it."""


def raise_set_priority() -> str:
    """Give every thread of this process ``SET_NICE`` where allowed (the threads started later inherit it); says
    what it got. Only for a set playing on a device: offline it would take the machine for itself."""
    tasks = Path("/proc/self/task")
    return take_nice(SET_NICE, tuple(int(t) for t in os.listdir(tasks)) if tasks.is_dir() else (0,))


class DeviceSink:
    """Plays through a device worker process. A bar not taken within ``WATCHDOG_BARS`` bar lengths (or a worker
    that reports its stream gone) means the device is lost: the worker is killed, the set goes on clock-paced to
    the WAV, and a fresh worker is tried after a bar, then after twice as many bars each time it fails (up to
    ``MAX_RETRY_BARS``: a worker costs a Python start); when one is ready, playback resumes at the
    next bar line."""

    live = True
    ahead = True
    WATCHDOG_BARS = 2
    MAX_RETRY_BARS = 8
    MARGIN = 0.75
    """Seconds of a bar still queued in the worker when it counts as taken: the set's next bar (rendered while this
    one played) must reach the worker within it, so a set process starved that long leaves no gap. More would make
    ``BarPlayed`` (the set's clock) run ahead of what is heard."""

    def __init__(self, worker: Worker, ready: dict[str, Any], wanted: str, sample_rate: int) -> None:
        self.wanted = wanted
        self.sample_rate = sample_rate
        self._worker: Worker | None = worker
        self._ready = ready
        self.name = str(ready["ready"])
        self._clock: ClockSink | None = None
        self._probe: Worker | None = None
        self._next_probe = 0.0
        self._retry_bars = 1
        self._frames = 0
        """Every frame handed to this sink, device or clock."""

    @classmethod
    def open(cls, wanted: str, sample_rate: int, timeout: float = 20.0) -> DeviceSink | str:
        """A sink on the device ``wanted`` names (empty: the default output), or why there is none."""
        worker = Worker(wanted, sample_rate, cls.MARGIN)
        hello = worker.hello(timeout)
        if "ready" not in hello:
            worker.kill()
            return str(hello.get("error", hello))
        return cls(worker, hello, wanted, sample_rate)

    @property
    def detail(self) -> str:
        """Where the audio goes, for the user."""
        rate = int(self._ready["rate"])
        via = f" (resampled {self.sample_rate} → {rate} Hz)" if rate != self.sample_rate else f" at {rate} Hz"
        priority = self._ready.get("priority")
        return f"playing on {self.name}{via}" + (f", the device worker at {priority}" if priority else "")

    async def play(self, audio: np.ndarray) -> Played:
        worker = self._worker
        if worker is None:
            return await self._play_on_clock(audio)
        underflows, xruns, server_xruns, silent, lost, anchor = 0, 0, 0, 0, "", (-1, 0)
        rate = int(self._ready["rate"])
        if worker.first_frame < 0:
            worker.first_frame = self._frames
        self._frames += len(audio)
        with trio.move_on_after(self.WATCHDOG_BARS * len(audio) / self.sample_rate) as watchdog:
            await worker.send(audio)
            while True:
                message = await worker.message()
                if message is None:
                    lost = f"the device worker for {self.name} exited (code {worker.process.poll()})"
                    break
                if "gone" in message:
                    lost = str(message["gone"])
                    break
                if "sounding" in message:
                    anchor = (worker.first_frame, int(message["sounding"]))
                if "took" in message:
                    underflows += int(message["underflows"])
                    xruns += int(message.get("xruns", 0))
                    server_xruns += int(message.get("server_xruns", 0))
                    silent += int(message["silent"])
                    if message["took"] >= worker.sent - 1:
                        break
        if watchdog.cancelled_caught:
            lost = f"{self.name} took no audio for {self.WATCHDOG_BARS} bars"
        if lost:
            worker.kill()
            self._worker = None
            self._clock = ClockSink(self.sample_rate, period=round(self.MARGIN * self.sample_rate))
            self._retry_bars = 1
            self._next_probe = trio.current_time() + len(audio) / self.sample_rate
        silent_ms = round(silent * 1000 / rate, 1)
        return Played(underflows, xruns, server_xruns, silent_ms, lost, anchor_frame=anchor[0], anchor_us=anchor[1])

    async def _play_on_clock(self, audio: np.ndarray) -> Played:
        """No device: keep the set's pace on trio's clock, and look for the device again meanwhile."""
        assert self._clock is not None
        deadline = self._clock.advance(len(audio))
        self._frames += len(audio)
        now = trio.current_time()
        if self._probe is None and now >= self._next_probe:
            self._probe = Worker(self.wanted, self.sample_rate, self.MARGIN)
            self._next_probe = now + self._retry_bars * len(audio) / self.sample_rate
            self._retry_bars = min(2 * self._retry_bars, self.MAX_RETRY_BARS)
        resumed = ""
        if self._probe is not None:
            with trio.move_on_at(deadline):
                hello = await self._probe.message()
                if hello is not None and "ready" in hello:
                    self._worker, self._ready, self.name = self._probe, hello, str(hello["ready"])
                    self._clock = None
                    resumed = self.detail
                else:
                    self._probe.kill()
                self._probe = None
        await trio.sleep_until(deadline)
        return Played(resumed=resumed)

    def close(self) -> None:
        """Let the worker play out its last bar, then end it (call from the trio run that played)."""
        if self._probe is not None:
            self._probe.kill()
        if self._worker is not None:
            self._worker.finish(timeout=2.0)
