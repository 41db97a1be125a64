"""Does the embedded LM's child stay flat over a long set? Plays the default scenario (the phrase brain on
SmolLM2 in a child process) with ``--fast --no-audio`` and samples the resident memory of the set's process and of
the LM child every second: at the child's start, its peak, at the end, and the growth per LM request.

    .venv/bin/python bench/bench_lm_memory.py [--minutes 60]

Before the prompt cache was capped (``local_server.CACHE_RAM_MIB``), the child grew by about 5.7 MB a request:
250 MB at its start, 931 MB after a 60-minute set.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def lm_child(parent: int) -> int | None:
    for task in Path(f"/proc/{parent}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"local_server" in cmdline:
                return int(child)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, "-m", "bergain_actors.cli", "run", str(ROOT / "scenarios" / "default.toml")]
        argv += ["--minutes", f"{args.minutes:g}", "--fast", "--no-audio", "--no-report", "--quiet", "--out", tmp]
        started = time.monotonic()
        load = os.getloadavg()[0]
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        child, series, main_peak = None, [], 0.0
        while process.poll() is None:
            main_peak = max(main_peak, rss_mb(process.pid))
            child = child or lm_child(process.pid)
            if child is not None and (now := rss_mb(child)) > 0:
                series.append(now)
            time.sleep(1.0)
        summary = process.stdout.read() if process.stdout else ""
        requests = next((line.split()[1] for line in summary.splitlines() if line.startswith("LM ")), "?")
    if not series:
        raise SystemExit("the LM child was never seen: did the set start the embedded LM?")
    quarters = [series[min(len(series) - 1, len(series) * q // 4)] for q in (1, 2, 3, 4)]
    print(f"default set, {args.minutes:g} minutes --fast, in {time.monotonic() - started:.0f} s (load {load:.1f}),"
          f" {requests} LM requests:")  # fmt: skip
    print(
        "  LM child RSS at a quarter, half, three quarters and the end of the set: "
        + " / ".join(f"{q:.0f}" for q in quarters)
        + f" MB (peak {max(series):.0f} MB); the set's own process peak {main_peak:.0f} MB"
    )


if __name__ == "__main__":
    main()
