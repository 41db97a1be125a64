"""What the audio path costs and how fast it notices a dead server, on a JACK dummy server at 48 kHz.

Prints a table: the device worker's start (ready to play), soxr resampling of one 44.1 kHz bar to 48 kHz (what
the worker spends per bar), how long after jackd is killed the set knows (the worker's own report, and the
two-bar watchdog when the server is frozen instead), and how long after jackd is back playback resumes.

Run: .venv/bin/python bench/bench_audio_server.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import time
import uuid

import numpy as np
import soxr
import trio

from bergain_actors.actors.streamer.jack_server import JackServer
from bergain_actors.actors.streamer.sinks import DeviceSink

RATE = 44100
BAR = 82688  # one bar at 128 BPM


def start_jack(name: str) -> JackServer:
    """A JACK dummy server at 48 kHz (real time where allowed), as the tests start it."""
    server = JackServer(name, 48000)
    server.start(timeout=20)
    return server


def tone() -> np.ndarray:
    t = np.arange(BAR) / RATE
    return np.repeat((0.2 * np.sin(2 * np.pi * 110 * t)).astype(np.float32)[:, None], 2, axis=1)


async def until(sink: DeviceSink, audio: np.ndarray, what: str) -> tuple[float, int]:
    """Play bars until ``what`` (lost / resumed) is reported: seconds it took and bars played meanwhile."""
    start, bars = time.perf_counter(), 0
    while True:
        played = await sink.play(audio)
        bars += 1
        if getattr(played, what):
            return time.perf_counter() - start, bars


def one_run(name: str, freeze: bool) -> dict[str, float]:
    server = start_jack(name)
    figures: dict[str, float] = {}
    try:
        began = time.perf_counter()
        sink = DeviceSink.open("", RATE)
        assert not isinstance(sink, str), sink
        figures["worker ready"] = time.perf_counter() - began
        audio = tone()

        async def main() -> None:
            await sink.play(audio)
            nonlocal server
            if freeze:
                server.process.send_signal(signal.SIGSTOP)
                figures["frozen → lost (watchdog)"], _ = await until(sink, audio, "lost")
                server.process.send_signal(signal.SIGCONT)
            else:
                server.stop(signal.SIGKILL)
                server.close()
                figures["killed → lost"], _ = await until(sink, audio, "lost")
                server = start_jack(name)
            figures["back → resumed"], _ = await until(sink, audio, "resumed")
            sink.close()

        trio.run(main)
    finally:
        if server.process is not None:
            server.process.send_signal(signal.SIGCONT)
        server.close()  # SIGTERM, not SIGKILL: a killed jackd leaves its entry in JACK's shared registry
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(JACK_NO_START_SERVER="1")
    bar = tone()
    stream = soxr.ResampleStream(RATE, 48000, 2, dtype="float32")
    times = []
    for _ in range(40):
        began = time.perf_counter()
        stream.resample_chunk(bar)
        times.append(time.perf_counter() - began)
    rows: dict[str, list[float]] = {"resample one bar 44.1 → 48 kHz (soxr stream)": times[5:]}
    for freeze in (False, True):
        for _ in range(args.runs):
            name = f"bench-{uuid.uuid4().hex[:8]}"
            os.environ["JACK_DEFAULT_SERVER"] = name
            for key, value in one_run(name, freeze).items():
                rows.setdefault(key, []).append(value)
    print(f"{'what':<48} {'median':>10} {'max':>10}   (bar = 1.875 s)")
    for key, values in rows.items():
        median, worst = statistics.median(values), max(values)
        unit = (1000, "ms") if worst < 1 else (1, "s")
        print(f"{key:<48} {median * unit[0]:>8.2f} {unit[1]} {worst * unit[0]:>8.2f} {unit[1]}")


if __name__ == "__main__":
    main()
