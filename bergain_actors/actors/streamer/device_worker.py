"""The device worker: a child process that owns PortAudio and plays the bars the set sends it.

Why a process: when the audio server dies, PortAudio's JACK host API is poisoned for the rest of the process
(closing the stream waits forever, ``Pa_Terminate`` aborts on an assertion). Confined to a child, the set kills it,
plays on clock-paced to the WAV, and starts a fresh worker when the server is back.

Protocol. Parent → worker on stdin: ``u32 frames`` then ``frames × 2`` float32 samples at the set's rate, one bar
per message; ``frames = 0`` means "no more: drain and exit". Worker → parent on stdout, one JSON object a line:
``{"ready": name, "rate": device_rate, "priority": how}`` (the worker's and its audio callback's scheduling, as the
threads really run: ``raise_priority``, ``callback_priority``) or ``{"error": reason}`` first; then ``{"took": bar,
"underflows": n, "xruns": k, "server_xruns": s, "silent": frames}`` when no more than ``--margin`` seconds of bar
``bar`` are left to play (the set's clock and its backpressure); ``{"sounding": µs}`` once, when the first frame will
reach the speakers (on CLOCK_MONOTONIC_RAW, Link's clock on Linux); ``{"gone": reason}`` when the stream stopped on
its own (the server went away); ``{"done": true}`` after draining.

Underflows are ours, measured where they happen: the output callback found no audio waiting while the set was
playing (one per dry spell, ``silent`` frames of silence in all), or PortAudio flagged an xrun (``xruns`` of the
``n``) soon after one of our callbacks ran past half its period. PortAudio's flag is the server's xrun notice, sent
to every client for any xrun: a client not done in time, or the server's own cycle waking late (which starts the
next cycle at once, so JACK then finds the client it just woke unfinished too). A flag while our audio was there and
no callback of ours overran is not of our making — the server's cycle, or our callback's thread, woken late by the
host; on JACK the server's log tells which (``bench/bench_underflows.py`` reads it) — and is counted apart:
``server_xruns``. (Measured in the callback, the run time leaves out a wait for Python's GIL before it: the worker's
other threads hold it briefly — a pipe read's copy, a JSON line — and Python asks for it back after 5 ms.)
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import struct
import sys
import threading
import time
from collections import deque
from typing import Any

import numpy as np

from bergain_actors.actors.streamer.devices import NoDevice, choose, playable_rate

HEADER = struct.Struct("<I")
RT_PRIORITY = 40
"""SCHED_FIFO priority of the worker's threads where allowed: above every ordinary process (a browser, a build),
under the kernel's own real-time threads and a real-time audio server's (``jack_server.PRIORITY``: 70, its clients'
callbacks 65; jackd's own default is 10, its clients' 5)."""
LEAVE_S = 2.0
"""How long closing the stream may take at the end before the worker exits anyway."""
OVERRUN_CALLBACKS = 8
"""For how many callbacks after one of ours ran past half its period an xrun flag is ours: JACK's notice reaches
PortAudio through the server's and the client's notification threads, a cycle or two after the xrun."""
FIRST_CALLBACK_S = 5.0
"""How long ``ready`` waits for the first audio callback, to say how its thread runs (one period when all is well)."""


def raise_priority() -> str:
    """Put the audio first, before any thread exists (the output callback's thread inherits it): SCHED_FIFO where
    allowed (root, or an rtprio limit), else the highest priority nice allows; says which it got. Every loop of
    this process blocks on a lock, a pipe or a sleep, so real time cannot starve the machine."""
    try:
        priority = min(RT_PRIORITY, os.sched_get_priority_max(os.SCHED_FIFO))
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        return f"SCHED_FIFO {priority}"
    except OSError:
        pass
    return take_nice(-20)


def take_nice(lowest: int, threads: tuple[int, ...] = (0,)) -> str:
    """Give ``threads`` (Linux: nice is a thread's) the lowest nice value from ``lowest`` up that is allowed, and
    say which; threads started later inherit it."""
    for nice in range(lowest, 0):
        try:
            for thread in threads:
                os.setpriority(os.PRIO_PROCESS, thread, nice)
            return f"nice {nice}"
        except OSError:
            continue
    return f"nice {os.getpriority(os.PRIO_PROCESS, 0)} (not allowed higher)"


def callback_priority() -> str:
    """Called on the audio callback's thread, once: its scheduling as it runs. PortAudio's JACK host API runs the
    callback on libjack's thread, which does not inherit ours: a real-time server gives it its own SCHED_FIFO
    priority, a server started without real time leaves it at SCHED_OTHER. Then raise it to ours where allowed
    (the server's own thread stays where the server put it: its xruns are its own)."""
    policy = os.sched_getscheduler(0)
    if policy in (os.SCHED_FIFO, os.SCHED_RR):
        name = "SCHED_FIFO" if policy == os.SCHED_FIFO else "SCHED_RR"
        return f"{name} {os.sched_getparam(0).sched_priority} (the audio server's)"
    try:
        priority = min(RT_PRIORITY, os.sched_get_priority_max(os.SCHED_FIFO))
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        return f"SCHED_FIFO {priority} (raised here: the audio server gave SCHED_OTHER)"
    except OSError:
        return f"SCHED_OTHER nice {os.getpriority(os.PRIO_PROCESS, 0)} (not allowed higher)"


class Fifo:
    """Bars waiting for the output callback; the callback reports each bar as it is taken."""

    def __init__(self, margin: int, report: queue.SimpleQueue[dict[str, Any]]) -> None:
        self.lock = threading.Lock()
        self.chunks: deque[np.ndarray] = deque()
        self.head = 0
        self.queued = 0
        self.consumed = 0
        self.received = 0
        self.ends: deque[tuple[int, int]] = deque()
        """(bar number, cumulative frame where it ends) for bars not yet reported taken."""
        self.margin = margin
        self.report = report
        self.playing = False
        """True from the first bar until the end marker: only then is an empty queue an underflow."""
        self.dry = False
        self.underflows = 0
        self.xruns = 0
        """Of ``underflows``, those PortAudio flagged (JACK's xrun notices) soon after a callback of ours overran."""
        self.server_xruns = 0
        """PortAudio's flags while no callback of ours overran: not ours (the server's cycle, or our callback's
        thread, woken late)."""
        self.overran = 0
        """Callbacks left in which a flag is ours (``OVERRUN_CALLBACKS`` after one ran past half its period)."""
        self.silent = 0

    def push(self, audio: np.ndarray, bar: int | None) -> None:
        with self.lock:
            if len(audio):
                self.chunks.append(audio)
                self.queued += len(audio)
                self.received += len(audio)
            if bar is not None:
                self.ends.append((bar, self.received))
                self.playing = True
            self._report()

    def fill(self, out: np.ndarray, flagged: bool) -> None:
        """The output callback's work: copy what is queued, silence the rest, count what was missing."""
        frames = len(out)
        with self.lock:
            done = 0
            while done < frames and self.chunks:
                chunk = self.chunks[0]
                n = min(frames - done, len(chunk) - self.head)
                out[done : done + n] = chunk[self.head : self.head + n]
                done += n
                self.head += n
                if self.head == len(chunk):
                    self.chunks.popleft()
                    self.head = 0
            self.queued -= done
            self.consumed += done
            if done < frames:
                out[done:] = 0
                if self.playing:
                    self.underflows += not self.dry
                    self.silent += frames - done
                    self.dry = True
            else:
                self.dry = False
            ours = flagged and self.overran > 0
            self.underflows += ours
            self.xruns += ours
            self.server_xruns += flagged and not ours
            self.overran = max(0, self.overran - 1)
            self._report()

    def ran(self, seconds: float, period: float) -> None:
        """A callback's own run time (``period`` is its buffer's duration): past half of it, the flags of the next
        ``OVERRUN_CALLBACKS`` callbacks are ours."""
        if seconds > period / 2:
            with self.lock:
                self.overran = OVERRUN_CALLBACKS

    def _report(self) -> None:
        while self.ends and self.consumed >= self.ends[0][1] - self.margin:
            bar, _ = self.ends.popleft()
            self.report.put(
                {
                    "took": bar,
                    "underflows": self.underflows,
                    "xruns": self.xruns,
                    "server_xruns": self.server_xruns,
                    "silent": self.silent,
                }
            )
            self.underflows = self.xruns = self.server_xruns = self.silent = 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="device_worker")
    parser.add_argument("--device", default="")
    parser.add_argument("--rate", type=int, required=True, help="the set's sample rate")
    parser.add_argument("--margin", type=float, default=0.25, help="seconds left in a bar when it counts as taken")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the set decides when this process ends
    priority = raise_priority()
    out = sys.stdout
    messages: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()

    def say(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    try:
        import sounddevice as sd

        output = choose(args.device)
        rate = playable_rate(output, args.rate)
    except NoDevice as exc:
        say({"error": str(exc)})
        os._exit(0)
    resampler = None
    if rate != args.rate:
        import soxr

        resampler = soxr.ResampleStream(args.rate, rate, 2, dtype="float32")
    fifo = Fifo(round(args.margin * rate), messages)
    running: list[str] = []
    called = threading.Event()

    def callback(buffer: np.ndarray, frames: int, when: Any, status: Any) -> None:
        entered = time.monotonic()
        if not called.is_set():
            running.append(callback_priority())
            called.set()
        starting = fifo.consumed == 0
        fifo.fill(buffer, bool(status.output_underflow))
        if starting and fifo.consumed:  # the first frame of the set reaches the speakers after the output latency
            delay = max(0.0, when.outputBufferDacTime - when.currentTime)
            messages.put({"sounding": time.clock_gettime_ns(time.CLOCK_MONOTONIC_RAW) // 1000 + round(delay * 1e6)})
        fifo.ran(time.monotonic() - entered, frames / rate)

    try:
        stream = sd.OutputStream(device=output.index, samplerate=rate, channels=2, dtype="float32", callback=callback)
        stream.start()
    except Exception as exc:  # PortAudio's own error types
        say({"error": f"cannot open {output.name} at {rate} Hz ({exc})"})
        os._exit(0)
    if called.wait(FIRST_CALLBACK_S):
        priority += f", its audio callback at {running[0]}"
    else:
        priority += f", its audio callback not called within {FIRST_CALLBACK_S:g} s"
    say({"ready": output.name, "rate": rate, "host_api": output.host_api, "priority": priority})

    def writer() -> None:
        while True:
            message = messages.get()
            say(message)
            if "gone" in message or "done" in message:
                os._exit(0)  # never close a dead stream (that waits forever) nor terminate PortAudio (that aborts)

    ending = threading.Event()

    def monitor() -> None:
        while stream.active and not ending.is_set():
            time.sleep(0.05)
        if not ending.is_set():
            messages.put({"gone": f"{output.name} stopped taking audio (the audio server went away)"})

    threading.Thread(target=writer, daemon=True).start()
    threading.Thread(target=monitor, daemon=True).start()
    stdin = sys.stdin.buffer
    bar = 0
    while True:
        head = stdin.read(HEADER.size)
        if len(head) < HEADER.size:
            os._exit(0)  # the set is gone
        (frames,) = HEADER.unpack(head)
        if frames == 0:
            break
        data = stdin.read(frames * 8)
        if len(data) < frames * 8:
            os._exit(0)
        audio = np.frombuffer(data, dtype=np.float32).reshape(frames, 2)
        if resampler is not None:
            audio = resampler.resample_chunk(audio)
        fifo.push(audio, bar)
        bar += 1
    if resampler is not None:
        fifo.push(resampler.resample_chunk(np.zeros((0, 2), np.float32), last=True), None)
    with fifo.lock:
        fifo.playing = False
    deadline = time.monotonic() + 5
    while fifo.queued and time.monotonic() < deadline:
        time.sleep(0.01)
    ending.set()
    leave(stream, sd)
    messages.put({"done": True})
    threading.Event().wait()  # the writer ends the process once it has said so


def leave(stream: Any, sd: Any) -> None:
    """At the end, with the server alive, leave it as a client should: a client that just exits is found "not
    finished" by JACK, an xrun of ours in the server's log. Bounded: a server that stopped answering is left."""

    def close() -> None:
        stream.abort()
        stream.close()
        sd._terminate()  # deactivates and closes PortAudio's JACK client

    closing = threading.Thread(target=close, daemon=True)
    closing.start()
    closing.join(LEAVE_S)


if __name__ == "__main__":
    main()
