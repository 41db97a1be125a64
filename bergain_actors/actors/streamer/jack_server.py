"""A JACK server on the dummy driver (clock-paced, no sound card), as the tests and benches start it, and what its
log says about xruns.

Real time where allowed: a server started without it runs its cycle thread at SCHED_OTHER, where two busy
processes delay it past its period (JACK's own xruns, logged as ``JackTimedDriver::Process XRun``), and gives its
clients' callback threads SCHED_OTHER too (PortAudio's, then late: ``client = PortAudio was not finished``).
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PRIORITY = 70
"""The server's SCHED_FIFO priority (JACK gives its clients' callbacks 5 less): above the device worker's other
threads (``device_worker.RT_PRIORITY``), as on a machine set up for audio. jackd's own default is 10."""
SERVER_XRUN = re.compile(r"JackTimedDriver::Process XRun")
CLIENT_XRUN = re.compile(r"JackEngine::XRun: client (?:= )?(.+?) (?:was not finished|finished after)")


def realtime_allowed() -> bool:
    """Whether this user may run threads at SCHED_FIFO (root with CAP_SYS_NICE, or an rtprio limit): asked of a
    short-lived child, so this process keeps its own scheduling."""
    probe = "import os; os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


class JackServer:
    """``jackd -d dummy`` under its own name; its children find it through ``env``. Its console goes to a file
    (a pipe nobody reads could stall it) that ``xruns`` reads."""

    def __init__(
        self, name: str, rate: int, period: int = 1024, realtime: bool | None = None, extra: list[str] | None = None
    ) -> None:
        self.name, self.rate, self.period = name, rate, period
        self.extra = extra or []
        """More of jackd's own options (before the driver's), for a bench trying them."""
        self.realtime = realtime_allowed() if realtime is None else realtime
        self.env = {**os.environ, "JACK_NO_START_SERVER": "1", "JACK_DEFAULT_SERVER": name}
        self.process: subprocess.Popen | None = None
        handle, path = tempfile.mkstemp(prefix=f"jackd-{name}-", suffix=".log")
        os.close(handle)
        self.log = Path(path)

    @property
    def argv(self) -> list[str]:
        timing = ["-R", "-P", str(PRIORITY)] if self.realtime else ["--no-realtime"]
        driver = ["-d", "dummy", "-r", str(self.rate), "-p", str(self.period)]
        return ["jackd", *timing, *self.extra, "-n", self.name, *driver]

    @property
    def how(self) -> str:
        """How the server runs, for a table or a message."""
        return f"SCHED_FIFO {PRIORITY}" if self.realtime else "not real time"

    def start(self, timeout: float = 60.0) -> None:
        """Start it and wait until it runs; ``RuntimeError`` with its last words if it does not."""
        if not shutil.which("jackd"):
            raise FileNotFoundError("jackd is not installed (scripts/setup.sh installs it)")
        with self.log.open("ab") as console:
            self.process = subprocess.Popen(self.argv, env=self.env, stdout=console, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        wait = ["jack_wait", "-c", "-s", self.name]
        while subprocess.run(wait, env=self.env, capture_output=True, text=True).stdout.strip() != "running":
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                self.process.wait()
                raise RuntimeError(f"jackd did not start: {self.log.read_text(errors='replace')[-500:]}")
            time.sleep(0.03)  # an outside process's readiness: nothing to wait on but its answer

    def stop(self, sig: int = 15) -> None:
        """Send ``sig`` (SIGTERM: a killed jackd leaves its entry in JACK's shared registry) and wait for it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=20)
        self.process = None

    def xruns(self) -> collections.Counter[str]:
        """The xruns the server logged so far: ``server`` (its own cycle ran late), ``client NAME`` (a client not
        done in time; PortAudio's is ours) and ``client NAME after server``: a client found late right after the
        server's own xrun, which starts the next cycle at once (``JackTimedDriver::ProcessWait`` waits 0), before a
        client woken by the late cycle could finish — a consequence of the server's xrun, not of the client."""
        counts: collections.Counter[str] = collections.Counter()
        after_server = False
        for line in self.log.read_text(errors="replace").splitlines():
            if SERVER_XRUN.search(line):
                counts["server"] += 1
                after_server = True
            elif match := CLIENT_XRUN.search(line):
                counts[f"client {match.group(1)}{' after server' if after_server else ''}"] += 1
                after_server = False
            elif "Process error" not in line:  # the engine's line that follows every late client
                after_server = False
        return counts

    def close(self) -> None:
        self.stop()
        self.log.unlink(missing_ok=True)
