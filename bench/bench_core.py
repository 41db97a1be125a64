"""Core benchmarks: log append and read, bus latency, and a 60-minute set with --fast.

Prints a table; asserts nothing (speed is measured, not asserted). Run: .venv/bin/python bench/bench_core.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio

from bergain_actors.core import events as ev
from bergain_actors.core.actor import Actor
from bergain_actors.core.bus import Bus
from bergain_actors.core.log import LogHeader, LogReader, LogWriter
from bergain_actors.music.plan import BarPlan, Layer

ROOT = Path(__file__).resolve().parents[1]
N = 300_000


def typical_events(n: int) -> list[ev.Event]:
    """A set's mix: per bar a plan, a played bar and two smaller events (~160-byte average)."""
    plan = BarPlan(
        bar=0,
        bpm=128.0,
        layers=(
            Layer(role="kick", sample="kick/kick_punch_A.wav", gain=0.9, hits=(0, 96, 192, 288)),
            Layer(role="hihat", sample="hihat/hat_closed.wav", gain=0.5, hits=(48, 144, 240, 336)),
        ),
        phase="peak",
    )
    out: list[ev.Event] = []
    for i in range(n // 4):
        out.append(ev.BarPlanned(plan=plan, seq=4 * i + 1, bar=i, source="conductor"))
        out.append(
            ev.MixerMove(move="fader", role="hihat", args={"gain": 0.5}, seq=4 * i + 2, bar=i, source="conductor")
        )
        out.append(ev.Directive(kind="vary", text="stagnant", seq=4 * i + 3, bar=i, source="critic"))
        out.append(ev.BarPlayed(plan_seq=4 * i + 1, seq=4 * i + 4, bar=i, rms=0.2, peak=0.8, source="streamer"))
    return out


def header() -> LogHeader:
    return LogHeader(
        package_version="bench",
        scenario_path="",
        scenario_text="",
        resolved={},
        seed=0,
        pack_hash="",
        sample_rate=44100,
    )


async def append_with_group_commit(path: Path, events: list[ev.Event]) -> tuple[float, int]:
    """Appends as the bus does under fsync = "bar", with the bus's own committer fsyncing in a worker thread at
    most once per bar boundary (coalesced when the disk is slower than the bars)."""
    writer = LogWriter.create(path, header(), "bar")
    bus = Bus(writer)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(bus.committer)
        start = time.perf_counter()
        for i, event in enumerate(events):
            writer.append(event)
            if writer.commit_due(event):
                bus.request_commit()
            if i % 256 == 255:  # the set yields between bars; let the committer run as it would
                await trio.lowlevel.checkpoint()
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    syncs = writer.syncs
    writer.close()
    return elapsed, syncs


def read_all(path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    count = sum(1 for _ in LogReader(path))
    return time.perf_counter() - start, count


class Probe(Actor):
    """An observer that notes when each event reached it."""

    kind = "probe"
    inline = False
    subscribes = (ev.Event,)


async def bus_latency(rate: int, seconds: float, subscribers: int) -> tuple[list[float], float]:
    bus = Bus(None)
    sent: dict[int, float] = {}
    latencies: list[float] = []
    total = int(rate * seconds)

    async def drain(inbox: trio.MemoryReceiveChannel[ev.Event]) -> None:
        async for event in inbox:
            latencies.append(time.perf_counter() - sent[event.seq])

    async with trio.open_nursery() as nursery:
        for i in range(subscribers):
            nursery.start_soon(drain, bus.observe(f"sub{i}", (ev.Event,), 4096))
        event = ev.BarPlayed(plan_seq=1, source="streamer")
        start = trio.current_time()
        for i in range(total):
            await trio.sleep_until(start + i / rate)
            sent[bus.seq + 1] = time.perf_counter()
            bus.publish(event)
        await trio.sleep(0.05)
        nursery.cancel_scope.cancel()
    return latencies, total / seconds


def bus_throughput(subscribers: int, n: int) -> float:
    """Publish → deliver to ``subscribers`` inline actors, unpaced."""
    bus = Bus(None, wall_clock=False)
    seen = [0]

    class Count(Actor):
        subscribes = (ev.Event,)

        def handle(self, event: ev.Event) -> None:
            seen[0] += 1

    for i in range(subscribers):
        bus.attach(f"s{i}", Count(None, None), ())  # type: ignore[arg-type]
    event = ev.BarPlayed(plan_seq=1, source="streamer")
    start = time.perf_counter()
    for _ in range(n):
        bus.publish(event)
    elapsed = time.perf_counter() - start
    assert seen[0] == n * subscribers
    return n / elapsed


AUTOPILOT = ROOT / "scenarios" / "autopilot.toml"
PEAK_RSS = (
    "import resource, sys; from bergain_actors.cli import main; code = main(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(code)"
)


def fast_set(out: Path, minutes: int) -> tuple[float, float, float]:
    """Wall seconds, real-time factor and peak RSS (MiB) of ``run --fast`` on the no-LM scenario."""
    argv = ["run", str(AUTOPILOT), "--fast", "--no-audio", "--quiet", "--minutes", str(minutes), "--out", str(out)]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK_RSS, *argv], check=True, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    return wall, minutes * 60 / wall, int(done.stderr.strip().splitlines()[-1]) / 1024


def main() -> None:
    events = typical_events(N)
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.bgnlog"
        elapsed, fsyncs = trio.run(append_with_group_commit, path, events)
        size = path.stat().st_size
        rows.append(
            ("log append, fsync=bar", f"{N / elapsed:,.0f} events/s", f"{fsyncs} fsyncs, {size / N:.0f} B/event")
        )
        elapsed, count = read_all(path)
        assert count == N
        rows.append(("log read + decode", f"{count / elapsed:,.0f} events/s", "streaming, 1 MiB chunks"))
        rows.append(("bus publish → 5 inline actors", f"{bus_throughput(5, 200_000):,.0f} events/s", "unpaced"))
        latencies, _rate = trio.run(bus_latency, 10_000, 2.0, 5)
        p50 = statistics.median(latencies) * 1e3
        p99 = statistics.quantiles(latencies, n=100)[98] * 1e3
        rows.append(
            ("bus → 5 observers at 10k events/s", f"p50 {p50:.3f} ms, p99 {p99:.3f} ms", f"{len(latencies)} deliveries")
        )
        for minutes in (10, 60):
            wall, factor, rss = fast_set(Path(tmp) / f"set{minutes}", minutes)
            rows.append(
                (
                    f"run --fast, {minutes}-minute set",
                    f"{wall:.1f} s, {factor:.0f}× real time",
                    f"peak RSS {rss:.0f} MiB",
                )
            )
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'result':<32}  note")
    for name, result, note in rows:
        print(f"{name:<{width}}  {result:<32}  {note}")


if __name__ == "__main__":
    main()
