"""Ableton benchmark, against the real AbletonOSC on the simulated Live (../shared/abletonosc_peer).

    .venv/bin/python bench/bench_ableton.py [--queries 300] [--bars 32] [--tick-ms 10]

OSC round trip (one query at a time, and pipelined), notes written per second (clips of 1,000 notes, chunked under
9 KB, confirmed by Live), and how far ahead of their bar the clips of a live-mode set were written and fired.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import trio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bergain_actors.actors.ableton import live  # noqa: E402
from bergain_actors.actors.ableton.osc import OscClient  # noqa: E402
from bergain_actors.core import events as ev  # noqa: E402
from bergain_actors.music.notes import Note  # noqa: E402
from tests.ableton_peer import Peer  # noqa: E402
from tests.ableton_sets import ableton_scenario, play  # noqa: E402


async def round_trips(peer: Peer, queries: int) -> dict[str, str]:
    async with OscClient("127.0.0.1", peer.port, peer.reply_port, timeout=2.0) as osc:
        times = []
        for _ in range(queries):
            start = time.perf_counter()
            await osc.query("/live/test")
            times.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        await live.gather(*[osc.query("/live/track/get/name", t % 4) for t in range(100)])
        pipelined = (time.perf_counter() - start) * 1000
        osc.send("/live/song/create_midi_track", -1)
        (count,) = await osc.query("/live/song/get/num_tracks")
        track = int(count) - 1
        notes = [Note(36 + i % 48, (i * 24) % (16 * 96), 24, 100) for i in range(1000)]
        clips = 10
        start = time.perf_counter()
        for slot in range(clips):
            await live.write_clip(osc, track, slot % 8, notes, 16, f"bench {slot}")
        rate = clips * len(notes) / (time.perf_counter() - start)
    times.sort()
    return {
        "round trip p50": f"{statistics.median(times):.1f} ms",
        "round trip p99": f"{times[int(0.99 * (len(times) - 1))]:.1f} ms",
        "100 queries pipelined": f"{pipelined:.1f} ms",
        "notes written (1,000-note clips, confirmed)": f"{rate:,.0f} notes/s",
    }


def set_margins(tmp: Path, bars: int, tick_ms: float) -> dict[str, str]:
    peer = Peer(tmp / "set.jsonl", tick_ms=tick_ms, clock_ms=10).start()
    try:
        scenario = ableton_scenario(tmp, peer, bars=bars, bpm=128)
        result = play(scenario, tmp)
    finally:
        peer.stop()
    events = result.events
    origin = [e for e in events if isinstance(e, ev.LiveBeat)][-1].origin
    written = [origin + e.bar - e.live_bar for e in events if isinstance(e, ev.ClipWritten) and e.live_bar >= 0]
    fired = [origin + e.bar - e.live_bar for e in events if isinstance(e, ev.ClipFired)]
    late = sum(1 for e in events if isinstance(e, ev.ClipLate))
    return {
        f"live set: {bars} bars at 128 BPM, tick {tick_ms:g} ms": f"{len(fired)} clips fired, {late} late",
        "bars ahead a clip was written (min / median)": f"{min(written)} / {statistics.median(written):g}",
        "bars ahead a clip was fired (min)": f"{min(fired)}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--bars", type=int, default=32)
    parser.add_argument("--tick-ms", type=float, default=10.0)
    args = parser.parse_args()
    rows: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        peer = Peer(tmp / "rt.jsonl", tick_ms=args.tick_ms, clock_ms=10).start()
        try:
            rows.update(trio.run(round_trips, peer, args.queries))
        finally:
            peer.stop()
        rows.update(set_margins(tmp, args.bars, 100.0))
    head = f"measure (peer tick {args.tick_ms:g} ms)"
    width = max(len(k) for k in [head, *rows])
    print(f"| {head.ljust(width)} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for name, value in rows.items():
        print(f"| {name.ljust(width)} | {value} |")


if __name__ == "__main__":
    main()
