"""Whose are the JACK server's own xruns? A control for ``bench_underflows.py``: the same server (``jack_server``'s
dummy driver, 48 kHz, 1024 frames, real time where allowed) with no client at all, and another with a trivial client
that writes silence, beside the same load (two ``yes >/dev/null`` and a headless Chromium on a set's dashboard; the
set plays clock-paced with ``--no-audio``, so none of its audio goes to JACK), all in the same minutes. Beside them a
timer probe: a thread at the server's SCHED_FIFO priority that sleeps to each period's deadline, as the dummy
driver's cycle does, and counts how late it wakes. And the host's steal time (vCPUs not running) over the run.

    .venv/bin/python bench/bench_jack_control.py [--minutes 8] [--quiet] [--server-flags "..."] [--variant "-P 95"]...

If the server logs ``JackTimedDriver`` xruns with no client, and the probe wakes late as often, the xruns are the
host's timer, not anything of ours.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from bench_underflows import SCENARIO, Load, XrunTimes, coincident, play
from rich.console import Console
from rich.table import Table

from bergain_actors.actors.streamer.jack_server import PRIORITY, JackServer

SILENCE_CLIENT = """
import sys, threading, sounddevice as sd
def callback(out, frames, when, status):
    out.fill(0)
with sd.OutputStream(samplerate=48000, channels=2, dtype="float32", callback=callback):
    threading.Event().wait(float(sys.argv[1]))
"""

TIMER_PROBE = """
import ctypes, json, os, signal, sys, time
period_ns = round(1024 * 1e9 / 48000)
os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(int(sys.argv[2])))
libc = ctypes.CDLL(None, use_errno=True)
class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]
wake = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
end = wake + round(float(sys.argv[1]) * 1e9)
late, stalls = [], []
while wake < end:
    wake += period_ns
    libc.clock_nanosleep(time.CLOCK_MONOTONIC, 1, ctypes.byref(Timespec(wake // 10**9, wake % 10**9)), None)
    now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    late.append(now - wake)
    if late[-1] > period_ns:  # the driver's rule: more than a period late is an xrun; it starts again from now
        stalls.append(now / 1e9)
        wake = now
late.sort()
print(json.dumps({"cycles": len(late), "p99_us": late[int(len(late) * 0.99)] / 1000, "max_us": late[-1] / 1000,
                  "over_1ms": sum(x > 1e6 for x in late), "over_period": sum(x > period_ns for x in late),
                  "stalls": stalls}))
"""


def control(minutes: float, loaded: bool, flags: list[str], variants: list[str]) -> tuple[dict[str, str], str]:
    """One control run: servers with no client (one more per variant of jackd's options) and one with a silence
    client, and the timer probe, beside the load; its figures as table cells, and how the servers ran."""
    seconds = minutes * 60
    name = uuid.uuid4().hex[:8]
    servers = {"": JackServer(f"control-alone-{name}", 48000, extra=flags)}
    for number, variant in enumerate(variants):
        servers[variant] = JackServer(f"control-{number}-{name}", 48000, extra=flags + shlex.split(variant))
    silent = JackServer(f"control-silence-{name}", 48000, extra=flags)
    everyone = [*servers.values(), silent]
    with tempfile.TemporaryDirectory(prefix="bench-jack-control-") as folder:
        out = Path(folder)
        watches = []
        for server in everyone:
            server.start()
            watches.append(XrunTimes(server))
        client = subprocess.Popen([sys.executable, "-c", SILENCE_CLIENT, f"{seconds:g}"], env=silent.env)
        probe = subprocess.Popen(
            [sys.executable, "-c", TIMER_PROBE, f"{seconds:g}", str(PRIORITY)], stdout=subprocess.PIPE, text=True
        )
        load = Load(out, loaded)
        argv = [sys.executable, "-m", "bergain_actors.cli", "run", str(SCENARIO), "--minutes", f"{minutes:g}"]
        argv += ["--no-audio", "--no-report", "--plain", "--out", str(out / "set"), "--http", "127.0.0.1:0"]
        try:
            play(argv, dict(os.environ), load, timeout=seconds * 3 + 180)
            probed = json.loads(probe.communicate(timeout=seconds + 60)[0])
            client.wait(timeout=60)
        finally:
            cells = load.stop()
            for child in (client, probe):
                if child.poll() is None:
                    child.kill()
                    child.wait()
            for server in everyone:
                server.stop()
            times = [watch.stop() for watch in watches]
            counts = [server.xruns() for server in everyone]
            for server in everyone:
                server.close()
    for variant, count in zip(servers, counts, strict=False):
        cells[f"no client{', ' + variant if variant else ''}: jackd own xruns"] = str(count["server"])
    cells |= {
        "silence client: jackd own xruns": str(counts[-1]["server"]),
        "silence client: late after them": str(counts[-1]["client PortAudio after server"]),
        "silence client: late (its own)": str(counts[-1]["client PortAudio"]),
        "servers' xruns at once with another's": str(
            sum(coincident(mine, [t for other in times if other is not mine for t in other]) for mine in times)
        ),
        "probe cycles": str(probed["cycles"]),
        "probe > period late": str(probed["over_period"]),
        "probe > 1 ms late": str(probed["over_1ms"]),
        "probe p99 / max µs": f"{probed['p99_us']:.0f} / {probed['max_us']:.0f}",
        "servers' xruns when the probe woke > period late": str(
            coincident([t for mine in times for t in mine], probed["stalls"])
        ),
    }
    return cells, " ".join(servers[""].argv)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--quiet", action="store_true", help="without the hogs and the browser")
    parser.add_argument("--server-flags", default="", help="more jackd options for every server, before -d")
    parser.add_argument(
        "--variant", action="append", default=[], help="one more clientless server with these options (e.g. '-P 95')"
    )
    args = parser.parse_args()
    flags = shlex.split(args.server_flags)
    cells, server = control(args.minutes, not args.quiet, flags, args.variant)
    table = Table(title=f"{args.minutes:g} min, {server}, {os.cpu_count()} CPUs")
    for column in ("beside it", *cells):
        table.add_column(column, overflow="fold")
    table.add_row("nothing" if args.quiet else "2 hogs + browser", *cells.values())
    Console(width=240).print(table)


if __name__ == "__main__":
    main()
