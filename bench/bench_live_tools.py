"""The rlm brain's Live tools against the smithclay fork of AbletonOSC on the simulated Live (abletonosc_peer).

    .venv/bin/python bench/bench_live_tools.py [--tick-ms 100]

Plays the scripted program of tests/test_ableton_tools.py (create a track, load Drift, set a parameter, mix, write
a clip, fire a scene, guardrails) in a set into the peer, and prints how long each tool took from the program's
call to its answer: a reading of the logged view, or an operation carried out in Live and read back.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bergain_actors.core import events as ev  # noqa: E402
from tests.ableton_peer import Peer  # noqa: E402
from tests.ableton_sets import play  # noqa: E402
from tests.test_ableton_tools import rlm_set  # noqa: E402

ANSWERS = ("done", "error", "refused", "ok", "unchanged")
"""How a tool's answer begins: "done" and "error" come back from Live, the rest from the logged view."""


def tool_times(tick_ms: float) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        peer = Peer(tmp / "peer.jsonl", fork=True, tick_ms=tick_ms, clock_ms=10).start()
        try:
            result = play(rlm_set(tmp, peer, bars=28), tmp)
        finally:
            peer.stop()
    calls = {e.call_id: e for e in result.events if isinstance(e, ev.ToolCall)}
    out: dict[str, list[float]] = {}
    for answer in result.events:
        if isinstance(answer, ev.ToolResult) and calls[answer.call_id].tool.startswith("live_"):
            call = calls[answer.call_id]
            word = answer.value.split(":")[0] if isinstance(answer.value, str) else ""
            name = f"{call.tool} ({word if word in ANSWERS else 'reading'})"
            out.setdefault(name, []).append((answer.wall - call.wall) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tick-ms", type=float, default=100.0)
    args = parser.parse_args()
    rows = {
        name: f"{statistics.median(ms):.1f} ms (n={len(ms)})" for name, ms in sorted(tool_times(args.tick_ms).items())
    }
    head = f"tool, call to answer (peer tick {args.tick_ms:g} ms)"
    width = max(len(k) for k in [head, *rows])
    print(f"| {head.ljust(width)} | median |")
    print(f"|{'-' * (width + 2)}|--------|")
    for name, value in rows.items():
        print(f"| {name.ljust(width)} | {value} |")


if __name__ == "__main__":
    main()
