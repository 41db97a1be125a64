"""Does a live set play without a gap when the machine is busy? Plays the autopilot scenario in real time on a JACK
dummy server (48 kHz, 1024 frames: clock-paced like a sound card; real time where allowed, as ``jack_server``
starts it), alone and then loaded: two CPU hogs (``yes >/dev/null``, normal priority) and a headless Chromium on
the set's dashboard (``run --http``). Each run has a fresh server.

    .venv/bin/python bench/bench_underflows.py [--minutes 8] [--quiet-runs 1] [--loaded-runs 3] [--no-realtime]

Per run, from the set's log: underflows, ours (dry spells: the device found no audio of ours; and xrun flags soon
after a callback of ours overran), the server's own xruns the set counted apart (a flag while our audio was there
and our callbacks finished in time), late bars and the silence they left, engine holds (a plan late). From the
server's own log, whose xruns those were: the server's cycle (``JackTimedDriver``: JACK's own; the client it then
finds unfinished, as the next cycle starts at once, is counted apart) or a client not done in time (``PortAudio`` is
ours). A second server with no client runs beside each set (the control: its own xruns in the same minutes), and
the host's steal time is read from ``/proc/stat``. ``bench_jack_control.py`` has the full control.
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
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bergain_actors.actors.streamer.jack_server import SERVER_XRUN, JackServer
from bergain_actors.core.log import read_all
from bergain_actors.core.summary import Summary

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "autopilot.toml"


class Load:
    """Beside a run: two ``yes >/dev/null`` and a headless Chromium on the set's dashboard once its URL is known
    (when ``hogging``), or nothing; and what the host did meanwhile (load average, steal time)."""

    def __init__(self, folder: Path, hogging: bool) -> None:
        self.folder, self.hogging = folder, hogging
        self.hogs = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(2 * hogging)]
        self.browser: subprocess.Popen | None = None
        self.before, self.steal, self.started = os.getloadavg()[0], steal_ticks(), time.monotonic()

    def open(self, url: str) -> None:
        if not self.hogging:
            return
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

    def stop(self) -> dict[str, str]:
        """Stop the load; the host's figures meanwhile, as table cells."""
        stolen, seconds = steal_ticks() - self.steal, time.monotonic() - self.started
        cells = {"browser": self.browsing()}
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
        cells["load"] = f"{self.before:.1f} → {os.getloadavg()[0]:.1f}"
        cells["steal %"] = f"{100 * stolen / os.sysconf('SC_CLK_TCK') / seconds / (os.cpu_count() or 1):.1f}"
        return cells


class XrunTimes:
    """When a server logged its own xruns (``time.monotonic``, CLOCK_MONOTONIC), read from its log as it grows."""

    def __init__(self, server: JackServer) -> None:
        self.server = server
        self.times: list[float] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        rest = b""
        with self.server.log.open("rb") as console:
            while not self.stopped.wait(0.02):  # polls a file another process writes: nothing to wait on
                *lines, rest = (rest + console.read()).split(b"\n")
                self.times += [time.monotonic() for line in lines if SERVER_XRUN.search(line.decode(errors="replace"))]

    def stop(self) -> list[float]:
        self.stopped.set()
        self.thread.join()
        return self.times


def coincident(times: list[float], others: list[float], within: float = 0.25) -> int:
    """How many of ``times`` lie within ``within`` seconds of one of ``others``."""
    return sum(any(abs(t - o) <= within for o in others) for t in times)


def steal_ticks() -> int:
    """The host's steal time so far (``/proc/stat``, all CPUs, clock ticks): time our vCPUs were ready but not run."""
    return int(Path("/proc/stat").read_text().split("\n", 1)[0].split()[8])


def one_set(minutes: float, loaded: bool, realtime: bool) -> dict[str, str]:
    """One set on a fresh server; its figures as table cells."""
    with tempfile.TemporaryDirectory(prefix="bench-underflows-") as folder:
        out = Path(folder)
        name = uuid.uuid4().hex[:8]
        server = JackServer(f"bench-underflows-{name}", 48000, realtime=None if realtime else False)
        witness = JackServer(f"bench-witness-{name}", 48000, realtime=None if realtime else False)
        server.start()
        witness.start()
        watches = XrunTimes(server), XrunTimes(witness)
        load = Load(out, loaded)
        argv = [sys.executable, "-m", "bergain_actors.cli", "run", str(SCENARIO), "--minutes", f"{minutes:g}"]
        argv += ["--sample-rate", "48000", "--device", "system", "--no-report", "--plain", "--out", str(out / "set")]
        argv += ["--http", "127.0.0.1:0"]
        try:
            text = play(argv, server.env, load, timeout=minutes * 60 * 3 + 180)
        finally:
            host = load.stop()
            server.stop()
            witness.stop()
            xruns, witnessed = server.xruns(), witness.xruns()
            ours, theirs = (watch.stop() for watch in watches)
            server.close()
            witness.close()
        (log,) = (out / "set").glob("*.bgnlog")
        summary = Summary()
        for event in read_all(log)[1]:
            summary.add(event)
    playing = re.search(r"^audio: .*?the device worker at (.*)\)$", text, re.MULTILINE)
    others = sum(n for who, n in xruns.items() if who.startswith("client ") and "PortAudio" not in who)
    return {
        "load": host["load"],
        "browser": host["browser"],
        "bars": str(summary.bars_played),
        "underflows (ours)": str(summary.underflows),
        "of them dry": str(summary.underflows - summary.xruns),
        "server xruns (the set's count)": str(summary.server_xruns),
        "late bars": str(summary.late_bars),
        "silence s": f"{summary.silent_ms / 1000:.2f}",
        "holds": str(summary.holds),
        "jackd: own xruns": str(xruns["server"]),
        "jackd: PortAudio late right after them": str(xruns["client PortAudio after server"]),
        "jackd: PortAudio late (ours)": str(xruns["client PortAudio"]),
        "jackd: others late": str(others),
        "clientless jackd beside it: own xruns": str(witnessed["server"]),
        "jackd's own xruns at once with the clientless one's (±0.25 s)": str(coincident(ours, theirs)),
        "steal %": host["steal %"],
        "jackd": server.how,
        "device worker": playing[1] if playing else "?",
    }


def play(argv: list[str], env: dict[str, str], load: Load, timeout: float) -> str:
    """Run the set; once it says where its dashboard is, the browser opens it. Returns what the set printed."""
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            url = re.search(r"dashboard: (http://\S+?)\)", line)
            if url:
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
    table.add_column("run")  # one column a run: the figures are many
    for label, number, _ in rows:
        table.add_column(f"{number}: {label}", overflow="fold")
    for figure in rows[0][2]:
        table.add_row(figure, *(cells[figure] for _, _, cells in rows))
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
