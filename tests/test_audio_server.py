"""Audio that survives its server: a real JACK server at 48 kHz that the tests kill, restart and stall, under a
real ``bergain-actors run`` process sent real signals."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from bergain_actors.actors.streamer.sinks import DeviceSink
from bergain_actors.cli import main
from bergain_actors.core import events as ev
from bergain_actors.core.clock import Meter
from bergain_actors.core.log import LogError, read_all
from bergain_actors.core.scenario import PACKAGE_ROOT

pytestmark = pytest.mark.audio

AUTOPILOT = PACKAGE_ROOT / "scenarios" / "autopilot.toml"
DEFAULT = PACKAGE_ROOT / "scenarios" / "default.toml"
DEADLINE = 60.0
"""Generous: CI is a loaded 2-core machine. Nothing here asserts how fast; only that it happens."""


class LiveSet:
    """``bergain-actors run`` in a child process; its console (JSON lines on stderr) read as it comes."""

    def __init__(self, out: Path, *args: str) -> None:
        argv = [sys.executable, "-m", "bergain_actors.cli", "--log-json", "run", *args, "--out", str(out)]
        self.out = out
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.seen.append(line)
            with contextlib.suppress(ValueError):
                self.lines.put(json.loads(line))

    def wait_for(self, text: str) -> dict[str, Any]:
        """The next console line whose event starts with ``text``."""
        end = time.monotonic() + DEADLINE
        while (left := end - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if str(line.get("event", "")).startswith(text):
                return line
        raise AssertionError(f"no {text!r} within {DEADLINE} s; last lines: {self.seen[-8:]}")

    def events(self) -> list[ev.Event]:
        """The set's events so far (none while its log is still being created: its header not yet written)."""
        logs = list(self.out.glob("*.bgnlog"))
        try:
            return read_all(logs[0])[1] if logs else []
        except LogError:
            return []

    def wait_for_bars(self, count: int) -> list[ev.BarPlayed]:
        """Polls the set's log (an external process's progress) until ``count`` bars were played."""
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            played = [e for e in self.events() if isinstance(e, ev.BarPlayed)]
            if len(played) >= count:
                return played
            time.sleep(0.1)
        raise AssertionError(f"fewer than {count} bars played within {DEADLINE} s")

    def finish(self) -> tuple[int, str]:
        assert self.process.stdout is not None
        out = self.process.stdout.read()  # stderr is drained by the reader thread
        return self.process.wait(timeout=DEADLINE), out

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def live_sets():
    started: list[LiveSet] = []
    yield started
    for live in started:
        live.kill()


def replays_exactly(log: Path, wav: Path, tmp_path: Path) -> None:
    assert main(["replay", str(log), "--verify"]) == 0
    again = tmp_path / "again.wav"
    assert main(["replay", str(log), "--wav", str(again)]) == 0
    assert again.read_bytes() == wav.read_bytes()


def test_default_scenario_sounds_on_a_48k_server(jack48, tmp_path, live_sets):
    live = LiveSet(tmp_path / "set", str(DEFAULT), "--bars", "4")
    live_sets.append(live)
    started = live.wait_for("playing on system")
    assert "44100 → 48000" in started["event"]
    # record what reaches the server from the set's worker (PortAudio's JACK client) for two seconds
    recording = tmp_path / "heard.wav"
    ports = subprocess.run(["jack_lsp"], env=jack48.env, capture_output=True, text=True).stdout.split()
    ours = [p for p in ports if p.startswith("PortAudio") and ":out_" in p]
    assert len(ours) == 2, ports
    subprocess.run(
        ["jack_rec", "-f", str(recording), "-d", "2", "-b", "16", *ours], env=jack48.env, timeout=DEADLINE, check=True
    )
    heard, rate = sf.read(recording, dtype="float32")
    assert rate == 48000
    assert float(np.sqrt(np.mean(heard**2))) > 0.01  # music, not silence
    code, _ = live.finish()
    assert code == 0
    (log,) = live.out.glob("*.bgnlog")
    replays_exactly(log, log.with_suffix(".wav"), tmp_path)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_the_set_outlives_its_audio_server_and_comes_back_to_it(jack48, tmp_path, live_sets, how):
    live = LiveSet(tmp_path / "set", str(AUTOPILOT), "--bars", "200")
    live_sets.append(live)
    live.wait_for("playing on system")
    live.wait_for_bars(2)
    killed_at = time.time()
    jack48.stop(how)
    lost = live.wait_for("audio device lost")
    before = sum(1 for e in live.events() if isinstance(e, ev.BarPlayed) and e.wall < killed_at)
    assert lost["bar"] <= before + 2, (lost, before)  # within two bars the set says so
    # and it carries on, clock-paced, to the WAV
    live.wait_for_bars(lost["bar"] + 3)
    jack48.start()
    back = live.wait_for("audio device back")
    assert back["bar"] > lost["bar"]
    live.wait_for_bars(back["bar"] + 2)
    live.process.send_signal(signal.SIGINT)
    code, out = live.finish()
    assert code == 130
    assert "device changes   2" in out and "lost" in out and "resumed" in out
    (log,) = live.out.glob("*.bgnlog")
    _, events, problem = read_all(log)
    assert problem is None and isinstance(events[-1], ev.SetEnded) and events[-1].reason == "interrupted"
    changes = [(e.status, e.bar) for e in events if isinstance(e, ev.AudioDeviceChanged)]
    assert changes == [("lost", lost["bar"]), ("resumed", back["bar"])]
    played = [e.bar for e in events if isinstance(e, ev.BarPlayed)]
    assert played == list(range(len(played)))  # no bar missing while the device was gone
    start, _ = Meter(128).bar_frames(len(played), 44100)
    assert sf.info(log.with_suffix(".wav")).frames == start
    replays_exactly(log, log.with_suffix(".wav"), tmp_path)


def test_a_frozen_server_trips_the_watchdog_and_playback_comes_back(jack48, tmp_path, live_sets):
    live = LiveSet(tmp_path / "set", str(AUTOPILOT), "--bars", "200")
    live_sets.append(live)
    live.wait_for("playing on system")
    live.wait_for_bars(2)
    frozen_at = time.time()
    jack48.process.send_signal(signal.SIGSTOP)  # the server is there but takes nothing: only the watchdog can tell
    try:
        lost = live.wait_for("audio device lost")
        assert "took no audio for 2 bars" in lost["reason"]
        before = sum(1 for e in live.events() if isinstance(e, ev.BarPlayed) and e.wall < frozen_at)
        assert lost["bar"] <= before + 2, (lost, before)
        live.wait_for_bars(lost["bar"] + 2)  # on the clock, to the WAV, while the server stays frozen
    finally:
        jack48.process.send_signal(signal.SIGCONT)
    back = live.wait_for("audio device back")
    assert back["bar"] > lost["bar"]
    live.process.send_signal(signal.SIGINT)
    code, out = live.finish()
    assert code == 130 and "device changes   2" in out
    (log,) = live.out.glob("*.bgnlog")
    replays_exactly(log, log.with_suffix(".wav"), tmp_path)


STALL = 3.0
"""Seconds the set is frozen: more than the worker holds, less than the two bars that make the device lost."""


def test_a_stalled_set_counts_its_late_bars(jack48, tmp_path, live_sets):
    live = LiveSet(tmp_path / "set", str(AUTOPILOT), "--bars", "8")
    live_sets.append(live)
    live.wait_for("playing on system")
    live.wait_for_bars(2)
    live.process.send_signal(signal.SIGSTOP)
    time.sleep(STALL)  # the stimulus itself: the set's process frozen, as a stalled machine would
    live.process.send_signal(signal.SIGCONT)
    code, out = live.finish()
    assert code == 0, live.seen[-5:]
    events = live.events()
    late = [e for e in events if isinstance(e, ev.AudioUnderflow) and e.silent_ms > 0]
    assert late, "the stall left no trace"
    # the worker held at most a bar and the margin of audio (and the next bar, rendered ahead, was in the frozen
    # process): the rest of the stall was silence
    held = float(Meter(128).bar_seconds) + DeviceSink.MARGIN
    assert sum(e.silent_ms for e in late) >= (STALL - held) * 1000
    assert f"late bars {len(late)} " in out
    (log,) = live.out.glob("*.bgnlog")
    replays_exactly(log, log.with_suffix(".wav"), tmp_path)


SERVER_PAUSE = 0.3
"""Seconds the server's own cycle is held up: many periods (21 ms), far less than the two-bar watchdog."""


def test_the_servers_own_late_cycle_is_counted_apart_from_underflows(jack48, tmp_path, live_sets):
    live = LiveSet(tmp_path / "set", str(AUTOPILOT), "--bars", "6", "--sample-rate", "48000")
    live_sets.append(live)
    live.wait_for("playing on system")
    live.wait_for_bars(2)
    jack48.process.send_signal(signal.SIGSTOP)
    time.sleep(SERVER_PAUSE)  # the stimulus itself: the server's cycle wakes that late, as on a host that stalls it
    jack48.process.send_signal(signal.SIGCONT)
    warned = live.wait_for("audio server xrun")
    code, out = live.finish()
    assert code == 0, live.seen[-5:]
    jack48.server.stop()  # its log is complete once it has exited
    assert jack48.server.xruns()["server"] >= 1  # the server says it was its own cycle
    flagged = [e for e in live.events() if isinstance(e, ev.AudioUnderflow)]
    server_xruns = sum(e.server_xruns for e in flagged)
    assert server_xruns >= 1 and warned["count"] >= 1
    # our audio was there and our callback ran in time: no xrun of ours, no silence of ours
    assert sum(e.xruns for e in flagged) == 0 and sum(e.silent_ms for e in flagged) == 0, flagged
    assert f"server xruns {server_xruns} (not ours: audio ready, callback quick)" in out


def test_sample_rate_renders_the_set_at_the_devices_rate(jack48, tmp_path, live_sets):
    live = LiveSet(tmp_path / "set", str(AUTOPILOT), "--bars", "2", "--sample-rate", "48000", "--device", "system")
    live_sets.append(live)
    said = live.wait_for("playing on system")["event"]
    assert said.startswith("playing on system at 48000 Hz, the device worker at "), said  # nothing resampled
    # the set's own process runs at the priority it says (every thread of it, the main one among them)
    nice = int(said.rsplit("; the set at nice ", 1)[1].split()[0])
    assert nice <= 0 and os.getpriority(os.PRIO_PROCESS, live.process.pid) == nice, said
    code, _ = live.finish()
    assert code == 0
    (log,) = live.out.glob("*.bgnlog")
    info = sf.info(log.with_suffix(".wav"))
    assert info.samplerate == 48000 and info.frames == 2 * 90000
    replays_exactly(log, log.with_suffix(".wav"), tmp_path)


def test_a_device_asked_for_that_cannot_play_is_an_error(jack48, tmp_path, capsys):
    assert main(["run", str(AUTOPILOT), "--bars", "2", "--device", "no-such-card", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no-such-card" in err and "no output device matches" in err and "system" in err
    assert not list(tmp_path.glob("*.bgnlog"))


def test_devices_lists_the_server_and_its_rate(jack48):
    # in a child process, as a user runs it: PortAudio never loads into the test process
    listed = subprocess.run([sys.executable, "-m", "bergain_actors.cli", "devices"], capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    out = listed.stdout
    (row,) = [line for line in out.splitlines() if "system" in line]
    assert "JACK" in row and row.split()[-1] == "48000" and row.startswith("*")
