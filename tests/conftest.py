"""Shared fixtures: scenarios on the shipped pack, sets run in-process."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import msgspec
import pytest

from bergain_actors.core import scenario as scenarios
from bergain_actors.core.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
AUTOPILOT = ROOT / "scenarios" / "autopilot.toml"
"""The set with no LM: what most tests play."""


def make_scenario(tmp_path: Path, **changes: Any) -> Scenario:
    """The autopilot scenario on the shipped pack, logging under ``tmp_path``, with ``changes`` applied
    (``conductor={...}`` style dicts merge into that table)."""
    raw = msgspec.to_builtins(scenarios.load(AUTOPILOT)[0])
    raw.pop("base_dir")
    raw.update(sample_pack=str(ROOT / "sample_pack"), log_dir=str(tmp_path), minutes=None, bars=32)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    return scenarios.from_builtins(raw)


@pytest.fixture
def scenario_factory(tmp_path: Path):
    def factory(**changes: Any) -> Scenario:
        return make_scenario(tmp_path, **changes)

    return factory


CACHE_ENV = "BERGAIN_ACTORS_CACHE"
"""``music/copy_cache.py``'s: where the renderer keeps its copies and a pack's facts."""
SESSION_CACHE_ENV = "BERGAIN_TEST_SESSION_COPIES"
"""The session's folder for them, made once: this module imported again (``from conftest import ...``), an xdist
worker or a test's subprocess finds it here and uses it rather than making another."""
_MADE_HERE = SESSION_CACHE_ENV not in os.environ
if _MADE_HERE:
    os.environ[SESSION_CACHE_ENV] = tempfile.mkdtemp(prefix="bergain-copies-")
os.environ[CACHE_ENV] = os.environ[SESSION_CACHE_ENV]
"""Never the user's cache, not even for a fixture made before any test's own folder (a module's pack)."""


@pytest.fixture(autouse=True)
def render_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The renderer's copies on disk go in a folder of each test's own, and no test finds copies an earlier one made
    (the sets a test starts inherit it)."""
    folder = tmp_path_factory.mktemp("copies")
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


def pytest_sessionfinish(session: pytest.Session) -> None:
    import shutil

    if _MADE_HERE:  # by the process that made it, once all its workers are done
        shutil.rmtree(os.environ[SESSION_CACHE_ENV], ignore_errors=True)


def pytest_sessionstart(session: pytest.Session) -> None:
    """JACK keeps at most 8 servers in a registry in /dev/shm and frees a dead server's slot only when a server of the
    same name starts, so servers killed by earlier runs could fill it for good ("Too many servers already active").
    With no jackd alive nothing uses those files: start from a clean registry."""
    import shutil
    import subprocess

    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: the controller cleaned up before any worker started, and a sibling may run jackd now
    if shutil.which("pgrep") and subprocess.run(["pgrep", "-x", "jackd"], capture_output=True).returncode == 1:
        for path in Path("/dev/shm").glob("jack*"):  # files, and per-user folders such as jack_db-0
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def started_jack(name: str, rate: int, timeout: float = 60.0):
    """A JACK server (``jack_server.JackServer``: dummy driver, real time where allowed) that runs, or a skip
    without jackd and a failure when it does not start."""
    from bergain_actors.actors.streamer.jack_server import JackServer

    server = JackServer(name, rate)
    try:
        server.start(timeout)  # generous: a loaded machine starts jackd slowly
    except FileNotFoundError as exc:
        pytest.skip(f"{exc} (make test installs it)")
    except RuntimeError as exc:
        server.close()
        pytest.fail(str(exc))
    return server


@pytest.fixture(scope="session")
def jack_server():
    """A real, clock-paced JACK audio server (dummy driver: no sound card needed), started before PortAudio
    looks for devices. Yields the server's name."""
    import os
    import sys

    server = started_jack(f"bergain-test-{os.getpid()}", 44100)
    saved = {k: os.environ.get(k) for k in ("JACK_NO_START_SERVER", "JACK_DEFAULT_SERVER")}
    os.environ.update(JACK_NO_START_SERVER="1", JACK_DEFAULT_SERVER=server.name)
    if "sounddevice" in sys.modules:
        sd = sys.modules["sounddevice"]
        sd._terminate()
        sd._initialize()
    try:
        yield server.name
    finally:
        if "sounddevice" in sys.modules:
            sys.modules["sounddevice"]._terminate()  # before jackd goes, or PortAudio aborts the process
        server.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if "sounddevice" in sys.modules:
            sys.modules["sounddevice"]._initialize()


class Jack:
    """A JACK server on the dummy driver (clock-paced, no sound card) that a test may kill and start again under
    the same name."""

    def __init__(self, name: str, rate: int) -> None:
        import os

        self.name, self.rate = name, rate
        self.env = {**os.environ, "JACK_NO_START_SERVER": "1", "JACK_DEFAULT_SERVER": name}
        self.server: Any = None

    @property
    def process(self) -> Any:
        return self.server.process if self.server is not None else None

    def start(self) -> None:
        self.server = started_jack(self.name, self.rate, timeout=20)

    def stop(self, sig: int = 15) -> None:
        if self.server is not None:
            self.server.stop(sig)
            self.server.close()
        self.server = None


@pytest.fixture
def jack48(monkeypatch):
    """A 48 kHz JACK server of this test's own (children inherit its name through the environment)."""
    import os
    import uuid

    server = Jack(f"bergain-{os.getpid()}-{uuid.uuid4().hex[:8]}", 48000)
    server.start()
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    monkeypatch.setenv("JACK_DEFAULT_SERVER", server.name)
    try:
        yield server
    finally:
        server.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say how many tests skipped because ``../shared`` (the AbletonOSC peer) is not beside the clone."""
    from tests.ableton_peer import NO_PEER

    skipped = [r for r in terminalreporter.stats.get("skipped", ()) if NO_PEER in str(r.longrepr)]
    if skipped:
        terminalreporter.write_line(f"{len(skipped)} tests skipped: {NO_PEER}")
