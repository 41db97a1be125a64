"""Ableton Link: our set and a second peer on loopback, in a private network namespace (so the test joins no one
else's session). Each of our bar starts is checked against the *other* peer's view of the session, on Link's own
clock: its phase there, and the tempo it has."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bergain_actors.cli import main
from bergain_actors.core.scenario import PACKAGE_ROOT
from tests.link_peers import BARS, OUR_TEMPO, OURS_FROM, THEIR_TEMPO, THEIRS_AT

ONE_FRAME_MS = 1000 / 44100


def steady(bar: dict, tempo: float) -> None:
    """A bar on the session's phase by its own length: no shift needed, within 1 ms of phase 0, at ``tempo``."""
    assert bar["tempo"] == tempo, bar
    assert abs(bar["shift_ms"]) < 1.5 * ONE_FRAME_MS, bar  # rounding to a whole frame, nothing more
    assert bar["phase_error_ms"] < 1.0, bar
    assert bar["peers"] >= 1, bar


def peers_on_loopback(out: Path, *args: str) -> dict:
    """Run ``tests/link_peers.py`` in a private network namespace; what it saw."""
    if not (shutil.which("unshare") and shutil.which("ip")):
        pytest.skip("needs unshare and ip for a private loopback network")
    script = " ".join(["ip link set lo up && exec", sys.executable, "-m", "tests.link_peers", str(out), *args])
    run = subprocess.run(
        ["unshare", "-n", "sh", "-c", script], cwd=PACKAGE_ROOT, capture_output=True, text=True, timeout=180
    )
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout)
    assert "blocked" not in seen, seen["blocked"]
    return seen


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> dict:
    return peers_on_loopback(tmp_path_factory.mktemp("link"))


def test_bar_starts_land_on_the_sessions_phase_at_128_and_after_a_peer_moves_to_132(session):
    bars = {b["bar"]: b for b in session["bars"]}
    assert session["played"] == BARS and sorted(bars) == list(range(BARS))
    assert bars[0]["shift_ms"] > 0  # the first bar waits for a session bar line
    for n in range(1, THEIRS_AT + 1):
        steady(bars[n], 128.0)
    # the other peer moved to 132 while bar THEIRS_AT played: the next bar line follows, shifted onto the phase once
    after = bars[THEIRS_AT + 1]
    assert after["tempo"] == THEIR_TEMPO and after["phase_error_ms"] < 1.0
    for n in range(THEIRS_AT + 2, OURS_FROM):
        steady(bars[n], THEIR_TEMPO)


def test_our_tempo_changes_reach_the_other_peer(session):
    bars = {b["bar"]: b for b in session["bars"]}
    for n in range(OURS_FROM, BARS):
        steady(bars[n], OUR_TEMPO)
        assert abs(bars[n]["session_tempo"] - OUR_TEMPO) < 0.01, bars[n]
    # the Conductor's plans followed the session's tempo, and then led it
    plans = {int(bar): bpm for bar, bpm in session["plans"].items()}
    assert plans[0] == 128.0 and plans[OURS_FROM - 1] == THEIR_TEMPO and plans[BARS - 1] == OUR_TEMPO


def test_a_set_with_link_replays_exactly(session, tmp_path):
    log, wav = Path(session["log"]), Path(session["wav"])
    assert main(["replay", str(log), "--verify"]) == 0
    again = tmp_path / "again.wav"
    assert main(["replay", str(log), "--wav", str(again)]) == 0
    assert again.read_bytes() == wav.read_bytes()


@pytest.mark.audio
def test_on_a_device_the_output_latency_is_taken_into_account(jack48, tmp_path):
    seen = peers_on_loopback(tmp_path, "6", "--device")
    bars = {b["bar"]: b for b in seen["bars"]}
    # the worker said when the first frame really sounded (JACK's output latency is two 1024-frame periods, 42.7
    # ms at 48 kHz, plus the wait for the first callback): bar 1 moves that much earlier, once
    assert bars[1]["shift_ms"] <= -42.0 and bars[1]["phase_error_ms"] < 1.0
    for n in range(2, 6):
        steady(bars[n], 128.0)
