"""Does a live set play without a gap when the machine is busy? Plays the autopilot scenario in real time on a JACK
dummy server (48 kHz, 1024 frames: clock-paced like a sound card; real time where allowed, as ``jack_server``
starts it), alone and then loaded: two CPU hogs (``yes >/dev/null``, normal priority) and a headless Chromium on
the set's dashboard (``run --http``). Each run has a fresh server.

    .venv/bin/python bench/bench_underflows.py [--minutes 8] [--quiet-runs 1] [--loaded-runs 3] [--no-realtime]

Per run, from the set's log: underflows (dry spells: the device found no audio of ours; xruns: the device's flag,
JACK's notice of an xrun anywhere), late bars and the silence they left, engine holds (a plan late); from the
server's own log, whose xruns those were: the server's cycle (``JackTimedDriver``: JACK's own, not our audio
missing; the client it then finds unfinished, as the next cycle starts at once, is counted apart) or a client not
done in time (``PortAudio`` is ours); and the priorities the set said it got.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bergain_actors.actors.streamer.jack_server import JackServer
from bergain_actors.core.log import read_all
from bergain_actors.core.summary import Summary

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "autopilot.toml"


class Load:
    """Two ``yes >/dev/null`` and a headless Chromium on the set's dashboard once its URL is known."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.hogs = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(2)]
        self.browser: subprocess.Popen | None = None

    def open(self, url: str) -> None:
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if chromium is None:
            raise SystemExit("chromium is not installed (scripts/setup.sh installs it)")
        flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
        self.browser = subprocess.Popen(
            [chromium, *flags, f"--user-data-dir={self.folder / 'chromium'}", url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: its helpers end with it
        )

    def browsing(self) -> str:
        if self.browser is None:
            return "no"
        return "yes" if self.browser.poll() is None else f"exited {self.browser.returncode}"

    def stop(self) -> None:
        for hog in self.hogs:
            hog.kill()
            hog.wait()
        if self.browser is not None and self.browser.poll() is None:
            os.killpg(self.browser.pid, signal.SIGTERM)
            try:
                self.browser.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.browser.pid, signal.SIGKILL)
                self.browser.wait()


def one_set(minutes: float, loaded: bool, realtime: bool) -> dict[str, str]:
    """One set on a fresh server; its figures as table cells."""
    with tempfile.TemporaryDirectory(prefix="bench-underflows-") as folder:
        out = Path(folder)
        server = JackServer(f"bench-underflows-{uuid.uuid4().hex[:8]}", 48000, realtime=None if realtime else False)
        server.start()
        load = Load(out) if loaded else None
        before = os.getloadavg()[0]
        argv = [sys.executable, "-m", "bergain_actors.cli", "run", str(SCENARIO), "--minutes", f"{minutes:g}"]
        argv += ["--sample-rate", "48000", "--device", "system", "--no-report", "--plain", "--out", str(out / "set")]
        argv += ["--http", "127.0.0.1:0"]
        try:
            text = play(argv, server.env, load, timeout=minutes * 60 * 3 + 180)
        finally:
            browsing = load.browsing() if load else "no"
            if load is not None:
                load.stop()
            after = os.getloadavg()[0]
            server.stop()
            xruns = server.xruns()
            server.close()
        (log,) = (out / "set").glob("*.bgnlog")
        summary = Summary()
        for event in read_all(log)[1]:
            summary.add(event)
    playing = re.search(r"^audio: .*?the device worker at (.*)\)$", text, re.MULTILINE)
    others = sum(n for who, n in xruns.items() if who.startswith("client ") and "PortAudio" not in who)
    return {
        "load": f"{before:.1f} → {after:.1f}",
        "browser": browsing,
        "bars": str(summary.bars_played),
        "underflows": str(summary.underflows),
        "dry (ours)": str(summary.underflows - summary.xruns),
        "xrun flags": str(summary.xruns),
        "late bars": str(summary.late_bars),
        "silence s": f"{summary.silent_ms / 1000:.2f}",
        "holds": str(summary.holds),
        "jackd: own xruns": str(xruns["server"]),
        "jackd: PortAudio late right after them": str(xruns["client PortAudio after server"]),
        "jackd: PortAudio late (ours)": str(xruns["client PortAudio"]),
        "jackd: others late": str(others),
        "jackd": server.how,
        "device worker": playing[1] if playing else "?",
    }


def play(argv: list[str], env: dict[str, str], load: Load | None, timeout: float) -> str:
    """Run the set; once it says where its dashboard is, the browser opens it. Returns what the set printed."""
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            url = re.search(r"dashboard: (http://\S+?)\)", line)
            if url and load is not None:
                load.open(url[1])

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=10)
    if process.returncode != 0:
        raise SystemExit(f"the set failed ({process.returncode}): {''.join(lines[-10:])}")
    return "".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--quiet-runs", type=int, default=1, help="sets with nothing else of ours running")
    parser.add_argument("--loaded-runs", type=int, default=3, help="sets beside two CPU hogs and a browser")
    parser.add_argument("--no-realtime", action="store_true", help="start jackd without real time (as before)")
    args = parser.parse_args()
    runs = [("alone", False)] * args.quiet_runs + [("2 hogs + browser", True)] * args.loaded_runs
    rows = []
    for number, (label, loaded) in enumerate(runs, 1):
        rows.append((label, str(number), one_set(args.minutes, loaded, not args.no_realtime)))
        print(f"run {number}/{len(runs)} ({label}): {rows[-1][2]}", file=sys.stderr, flush=True)
    table = Table(
        title=f"autopilot set, {args.minutes:g} min live on JACK (dummy, 48 kHz, 1024 frames), {os.cpu_count()} CPUs"
    )
    columns = list(rows[0][2])
    for column in ("beside it", "run", *columns):
        table.add_column(column, overflow="fold")
    for label, number, cells in rows:
        table.add_row(label, number, *(cells[c] for c in columns))
    Console(width=240).print(table)


if __name__ == "__main__":
    main()
