"""Does a live set play without a gap when the machine is busy? Plays the autopilot scenario in real time on a
JACK dummy server (48 kHz, 1024 frames: clock-paced like a sound card), alone and then beside two CPU hogs (busy
processes at normal priority), and prints each set's underflows, late bars and seconds of silence from its summary,
with the device worker's priority as the set said it.

    .venv/bin/python bench/bench_underflows.py [--bars 64] [--runs 1]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
HOG = "while True: pass"


def start_jack(name: str, env: dict[str, str]) -> subprocess.Popen:
    server = subprocess.Popen(["jackd", "--no-realtime", "-n", name, "-d", "dummy", "-r", "48000", "-p", "1024"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 60
    while subprocess.run(["jack_wait", "-c", "-s", name], env=env, capture_output=True, text=True).stdout.strip() != (
        "running"
    ):
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("jackd did not start")
        time.sleep(0.05)  # an external process's readiness
    return server


def one_set(bars: int, env: dict[str, str]) -> tuple[str, str]:
    """(the set's summary line on underflows, where it said it plays)."""
    with tempfile.TemporaryDirectory() as out:
        argv = [sys.executable, "-m", "bergain_actors.cli", "run", str(ROOT / "scenarios" / "autopilot.toml")]
        argv += ["--bars", str(bars), "--sample-rate", "48000", "--device", "system", "--no-report", "--plain"]
        done = subprocess.run([*argv, "--out", out], env=env, capture_output=True, text=True, timeout=bars * 10 + 120)
    text = done.stdout + done.stderr
    summary = next((line for line in text.splitlines() if " underflows " in line), f"exit {done.returncode}")
    playing = re.search(r"playing on [^\n)]*", text)
    return summary.strip(), playing[0] if playing else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=64)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    name = f"bench-underflows-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "JACK_NO_START_SERVER": "1", "JACK_DEFAULT_SERVER": name}
    server = start_jack(name, env)
    table = Table(title=f"autopilot set, {args.bars} bars live on JACK (dummy, 48 kHz, 1024 frames)")
    for column in ("load", "run", "load average", "summary", "device"):
        table.add_column(column)
    try:
        for hogs in (0, 2):
            spinning = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(hogs)]
            try:
                for run in range(args.runs):
                    before = os.getloadavg()[0]
                    summary, playing = one_set(args.bars, env)
                    table.add_row(f"{hogs} CPU hogs", str(run + 1), f"{before:.1f}", summary, playing)
            finally:
                for hog in spinning:
                    hog.kill()
                    hog.wait()
    finally:
        server.terminate()
        server.wait(timeout=30)
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
