"""HTTP API benchmark: request latency while a set plays, the set's holds under load, and what a stalled SSE
client costs the bus.

    .venv/bin/python bench/bench_service.py [--seconds 12] [--rate 100] [--clips 3]

A real set plays on a clock-paced sink (the speed of a device) with the API on a free loopback port; an httpx
client sends ``--rate`` requests a second (nine ``GET /health`` for each ``POST /control``, alternating ``hold``
and ``resume``). Run twice: without and with a client that opens ``/events`` and never reads. Then the
``clip`` command on the embedded LM, end to end.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import trio
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import make_scenario
from service_harness import live_set

from bergain_actors.core import events as ev


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def one_run(seconds: float, rate: int, stalled: bool) -> dict[str, float]:
    out = Path(tempfile.mkdtemp(prefix="bench-service-"))
    scenario = make_scenario(out, bars=10_000)
    publish_ms: list[float] = []
    health_ms: list[float] = []
    control_ms: list[float] = []
    async with live_set(scenario, out) as live, httpx.AsyncClient(base_url=live.url) as client:
        bus = live.http.session.bus
        original = bus.publish

        def timed(event: ev.Event, source: str | None = None) -> ev.Event:
            start = time.perf_counter()
            try:
                return original(event, source)
            finally:
                publish_ms.append((time.perf_counter() - start) * 1000)

        bus.publish = timed  # type: ignore[method-assign]
        sink = None
        if stalled:
            sink = socket.socket()
            sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
            sink.connect(("127.0.0.1", live.http.port))
            sink.sendall(b"GET /events HTTP/1.1\r\nhost: bench\r\n\r\n")
        await live.bar(1)
        interval = 1 / rate
        start = trio.current_time()
        sent = 0
        while trio.current_time() - start < seconds:
            await trio.sleep_until(start + sent * interval)
            began = time.perf_counter()
            if sent % 10 == 9:
                command = "hold" if (sent // 10) % 2 == 0 else "resume"
                answer = await client.post("/control", json={"command": command})
                control_ms.append((time.perf_counter() - began) * 1000)
            else:
                answer = await client.get("/health")
                health_ms.append((time.perf_counter() - began) * 1000)
            answer.raise_for_status()
            sent += 1
        elapsed = trio.current_time() - start
        if sink is not None:
            sink.close()
        holds = len(live.of(ev.BarHeld))
        underflows = sum(e.count for e in live.of(ev.AudioUnderflow))
        bars = len(live.of(ev.BarPlayed))
    return {
        "requests/s": sent / elapsed,
        "health p50": statistics.median(health_ms),
        "health p99": percentile(health_ms, 0.99),
        "control p50": statistics.median(control_ms),
        "control p99": percentile(control_ms, 0.99),
        "publish p50": statistics.median(publish_ms),
        "publish p99": percentile(publish_ms, 0.99),
        "bars": bars,
        "holds": holds,
        "underflows": underflows,
    }


def clip_on_the_command_line(runs: int) -> list[float]:
    """Wall seconds of ``bergain-actors clip ... --midi`` on the embedded LM, the model's start included."""
    times = []
    for run in range(runs):
        out = Path(tempfile.mkdtemp(prefix="bench-clip-")) / f"clip{run}.mid"
        argv = [
            sys.executable,
            "-m",
            "bergain_actors.cli",
            "clip",
            "4-bar acid bassline in A minor",
            "--midi",
            str(out),
        ]
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or not out.exists():
            raise SystemExit(f"clip failed: {done.stderr.strip()}")
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--clips", type=int, default=3, help="clip CLI runs on the embedded LM (0: skip)")
    args = parser.parse_args()
    runs = {
        label: trio.run(one_run, args.seconds, args.rate, stalled)
        for label, stalled in (("no SSE client", False), ("a stalled SSE client", True))
    }
    table = Table(title=f"HTTP API beside a playing set ({args.rate} requests/s for {args.seconds:g} s)")
    table.add_column("measure")
    for label in runs:
        table.add_column(label, justify="right")
    for key in next(iter(runs.values())):
        unit = " ms" if "p50" in key or "p99" in key else ""
        fmt = "{:.2f}" if unit else ("{:.1f}" if key == "requests/s" else "{:.0f}")
        table.add_row(key + unit, *(fmt.format(run[key]) for run in runs.values()))
    Console().print(table)
    if args.clips:
        times = clip_on_the_command_line(args.clips)
        clips = Table(title='clip "4-bar acid bassline in A minor" --midi, embedded LM (model start included)')
        for column in ("runs", "median s", "max s"):
            clips.add_column(column, justify="right")
        clips.add_row(str(len(times)), f"{statistics.median(times):.2f}", f"{max(times):.2f}")
        Console().print(clips)


if __name__ == "__main__":
    main()
