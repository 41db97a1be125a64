"""Replay benchmarks: auditing, verifying (decisions re-run, every bar re-rendered and its checksum compared) and
re-rendering a 30-minute set, and the cost of one bar's audio checksum.

Prints a table; asserts nothing. Run: .venv/bin/python bench/bench_replay.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from bergain_actors import replay
from bergain_actors.cli import main
from bergain_actors.music.fingerprint import bar_checksum

ROOT = Path(__file__).resolve().parents[1]


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run() -> list[tuple[str, str]]:
    rows = []
    bar = np.random.default_rng(1).random((82688, 2), dtype=np.float32)
    per_bar = timed(lambda: [bar_checksum(bar) for _ in range(500)]) / 500
    rows.append(("audio checksum of one bar (CRC-32 of 82,688 stereo frames)", f"{per_bar * 1000:.2f} ms"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        argv = ["run", str(ROOT / "scenarios" / "autopilot.toml"), "--fast", "--no-audio", "--quiet", "--no-report"]
        assert main([*argv, "--minutes", "30", "--out", str(out)]) == 0
        (log,) = out.glob("*.bgnlog")
        replay.verify(log, warn=print)  # the pack decoded and the code imported once, as in one CLI call
        rows.append(("audit of a 30-minute set (960 bars)", f"{timed(lambda: replay.audit(log)):.3f} s"))
        verdict: list[replay.Verdict] = []
        seconds = timed(lambda: verdict.append(replay.verify(log, warn=print)))
        rows.append(("replay --verify of a 30-minute set", f"{seconds:.2f} s ({verdict[0].count()})"))
        seconds = timed(lambda: replay.render(log, out / "again.wav", warn=print))
        rows.append(("replay --wav of a 30-minute set", f"{seconds:.2f} s"))
    return rows


if __name__ == "__main__":
    rows = run()
    width = max(len(name) for name, _ in rows)
    print(f"{'benchmark':<{width}}  result")
    for name, result in rows:
        print(f"{name:<{width}}  {result}")
