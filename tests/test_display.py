"""The live display: its pure parts (command line, narration, what comes next), then the real thing under a
pseudo-terminal, typed at like a performer would."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from bergain_actors.cli import main
from bergain_actors.core import events as ev
from bergain_actors.display.board import Board
from bergain_actors.display.editor import DOWN, UP, LineEditor
from bergain_actors.display.narrate import Narrator
from bergain_actors.music.plan import BarPlan, Layer
from tests.conftest import ROOT


def test_command_line_edits_and_remembers():
    editor = LineEditor()
    assert editor.feed("darkre\x7f\x7fer") == [] and editor.text == "darker"
    assert editor.feed("\r") == ["darker"] and editor.text == ""
    assert editor.feed("energy +\rhold\r") == ["energy +", "hold"]
    editor.feed(UP)
    assert editor.text == "hold"
    editor.feed(UP + UP)
    assert editor.text == "darker"
    editor.feed(DOWN)
    assert editor.text == "energy +"
    assert editor.feed("\x15stop\r") == ["stop"]
    assert editor.history == ["darker", "energy +", "hold", "stop"]


def plan(bar: int, *roles: str, phase: str = "build") -> ev.BarPlanned:
    layers = tuple(Layer(role=r, sample=f"{r}.wav", gain=0.5) for r in roles)
    return ev.BarPlanned(plan=BarPlan(bar=bar, bpm=128, layers=layers, phase=phase, energy=0.5, target=0.6), bar=bar)


def test_narration_is_one_line_per_decision():
    narrator = Narrator()
    moves = [
        ev.MixerMove(move="add", role="perc", bar=16),
        ev.MixerMove(move="add", role="synth", bar=16, result="refused: at the density cap (5)"),
        ev.MixerMove(move="fader", role="kick", args={"gain": 0.8}, bar=16),
    ]
    assert [line for m in moves for line in narrator.lines(m)] == []
    assert narrator.lines(plan(16, "kick", "perc")) == [
        "bar   16 · build     energy 0.50/0.60 · add perc, fader kick 0.8"
    ]
    assert narrator.lines(plan(17, "kick", "perc")) == []  # nothing changed: nothing said
    verbose = Narrator(verbose=True)
    for m in moves:
        verbose.lines(m)
    assert "add synth (refused: at the density cap (5))" in verbose.lines(plan(16))[0]
    steer = ev.Steer(intent="say", text="darker", seq=40)
    assert narrator.lines(steer) == []
    acted = ev.SteerActed(intent="darker", action="remove hihat", bar=20, cause=40)
    assert narrator.lines(acted) == ['bar   20 · you: "darker" → darker: remove hihat']


def test_board_says_what_comes_next():
    board = Board()
    board.add(
        ev.SetStarted(name="s", seed=1, bpm=128, beats_per_bar=4, total_bars=256, sample_rate=44100, lookahead_bars=2)
    )
    planned = board_event(board, plan(29, "kick", phase="intro"), seq=10)
    board.add(ev.BarPlayed(plan_seq=planned.seq, bar=29))
    board.add(ev.Steer(intent="say", text="darker", seq=11))
    assert board.upcoming() == [
        (2, "intro → build at bar 32"),
        (2, "phrase decision at bar 32"),
        (2, 'your "darker" at bar 32'),
        (226, "set ends at bar 256"),
    ]
    board.add(ev.SteerActed(intent="darker", action="remove hihat", bar=32, cause=11))
    assert (2, 'your "darker" at bar 32') not in board.upcoming()
    board.add(ev.StopPlanned(from_bar=32, end_bar=48))
    assert board.upcoming()[-1] == (18, "outro ends at bar 48")


def test_the_panel_shows_the_device_the_tempo_playing_and_splits_stalls_from_held_bars():
    from rich.console import Console

    from bergain_actors.display.live import render

    board = Board()
    board.add(
        ev.SetStarted(name="s", seed=1, bpm=128, beats_per_bar=4, total_bars=64, sample_rate=44100, lookahead_bars=2)
    )
    board.add(ev.AudioStarted(device="system:playback", detail="JACK"))
    board.add(ev.SteerActed(intent="hold", action="holding", bar=0))
    for bar in range(3):
        planned = board_event(board, ev.BarPlanned(plan=BarPlan(bar=bar, bpm=128 + 2 * bar), bar=bar), seq=10 + bar)
        board.add(ev.BarPlayed(plan_seq=planned.seq, bar=bar))
    board.add(ev.BarHeld(plan_seq=12, bar=3))
    board.add(ev.AudioDeviceChanged(status="lost", device="system:playback", reason="server gone", bar=3))

    def shown() -> str:
        console = Console(record=True, width=160, color_system=None)
        console.print(render(board, LineEditor(), 1))
        return console.export_text()

    text = shown()
    assert "132 BPM" in text and "stalls 1" in text and "held 3 bars" in text
    assert "audio  system:playback LOST at bar 3 (server gone)" in text
    board.add(ev.AudioDeviceChanged(status="resumed", device="system:playback", bar=9))
    assert "audio  system:playback (back at bar 9)" in shown()


def test_the_panel_counts_the_bars_live_did_not_play_as_planned_and_says_why():
    from rich.console import Console

    from bergain_actors.display.live import render

    board = Board()
    board.add(
        ev.SetStarted(name="s", seed=1, bpm=120, beats_per_bar=4, total_bars=32, sample_rate=44100, lookahead_bars=2)
    )
    board.add(ev.AbletonStatus(state="connected", bar=0))
    for role, bar in (("bass", 5), ("drums", 5), ("bass", 9)):
        board.add(ev.LiveBarOff(role=role, reason="Live plays slot 2, planned slot 3", bar=bar))
    console = Console(record=True, width=160, color_system=None)
    console.print(render(board, LineEditor(), 1))
    text = console.export_text()
    assert "Ableton  connected   2 bars not as planned" in text
    assert "bar    9 · Live did not play bass as planned: Live plays slot 2, planned slot 3" in text


def board_event(board: Board, event: ev.Event, seq: int) -> ev.Event:
    stamped = ev.BarPlanned(plan=event.plan, bar=event.bar, seq=seq)  # type: ignore[attr-defined]
    board.add(stamped)
    return stamped


def _controlling_terminal() -> None:
    """In the child: a session of its own whose controlling terminal is the pty, so Ctrl-C there is SIGINT."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _blocking_sigint() -> None:
    """As a parent that blocks SIGINT leaves its children (the mask is inherited through exec)."""
    _controlling_terminal()
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # blocked only (pytest in a background job would also ignore it)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


def _ignoring_and_blocking_sigint() -> None:
    """As a background job of a shell leaves its children: SIGINT ignored, and here blocked as well."""
    _controlling_terminal()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


STARTS = {"plain": _controlling_terminal, "blocked": _blocking_sigint, "ignored": _ignoring_and_blocking_sigint}


class Terminal:
    """``bergain-actors`` on a real pseudo-terminal: what it shows, stripped of escape codes, and keys typed."""

    def __init__(self, args: list[str], start: str = "plain") -> None:
        self.master, slave = pty.openpty()
        rows, columns = 60, 130
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bergain_actors.cli", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            close_fds=True,
            preexec_fn=STARTS[start],
            cwd=ROOT,
            # the pty's size, not a COLUMNS/LINES the runner's shell exported (rich prefers those: at 80x25 the
            # answers under the brain's panel were cropped off the screen)
            env={**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(rows)},
        )
        os.close(slave)
        self.raw = b""

    @property
    def text(self) -> str:
        return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", self.raw.decode(errors="replace"))

    def wait_for(self, *needles: str, within: float = 60, anywhere: bool = False) -> str:
        """Read until every needle has shown up since the last keys typed (or ``anywhere`` since the start): a
        real process, so a generous deadline."""
        deadline = time.monotonic() + within
        start = 0 if anywhere else self.mark
        while not all(n in self.text[start:] for n in needles):
            if time.monotonic() > deadline or not self._read(deadline):
                missing = [n for n in needles if n not in self.text[start:]]
                raise AssertionError(f"not shown within {within} s: {missing}\n{self.text[-3000:]}")
        return self.text[start:]

    mark = 0

    def wait_for_match(self, pattern: str, within: float = 60) -> None:
        """Read until ``pattern`` (a regular expression) has shown up anywhere since the start."""
        deadline = time.monotonic() + within
        while not re.search(pattern, self.text):
            if time.monotonic() > deadline or not self._read(deadline):
                raise AssertionError(f"{pattern!r} not shown within {within} s\n{self.text[-3000:]}")

    def type(self, keys: str) -> None:
        self.mark = len(self.text)
        os.write(self.master, keys.encode())

    def _read(self, deadline: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], max(0.0, min(1.0, deadline - time.monotonic())))
        if ready:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # the child closed the terminal
                return False
            if not chunk:
                return False
            self.raw += chunk
        return True

    def finish(self, within: float = 60) -> int:
        deadline = time.monotonic() + within
        while self._read(deadline) and time.monotonic() < deadline:
            pass
        try:
            code = self.process.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:  # say what the screen showed, not only that time ran out
            self.kill()
            raise AssertionError(f"still running {within:g} s on; the screen ends with:\n{self.text[-1500:]}") from None
        os.close(self.master)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def terminal():
    opened: list[Terminal] = []

    def start(*args: str, how: str = "plain") -> Terminal:
        opened.append(Terminal(list(args), how))
        return opened[-1]

    yield start
    for t in opened:
        t.kill()


@pytest.mark.timeout(240)
def test_the_live_display_under_a_pty_answers_every_command(terminal, tmp_path: Path):
    scenario = str(ROOT / "scenarios" / "phrase_scripted.toml")
    screen = terminal("run", scenario, "--no-audio", "--minutes", "500", "--out", str(tmp_path), "--no-report")
    shown = screen.wait_for(
        "bar ",
        "phase ",
        "energy ",
        "target ",
        "layers",
        "kick",
        "next ",
        "phrase decision at",
        "providers ",
        "scripted ●",
        "the brain, one line per decision",
        "> ",
    )
    assert "brain phrase" in shown or "brain autopilot" in shown
    for line, *answers in [
        ("darker", "→ darker: steer 'darker' → the conductor at the next 4-bar line (code reads: darker 1.00)"),
        ("energy +", "→ energy +: energy target +0.10 at the next 4-bar line"),
        ("hold", "→ hold: holding the groove from the next bar: no changes until 'resume'", "HOLDING (resume to"),
        ("resume", "→ resume: resuming: the brain changes things again from the next phrase"),
        ("swap conductor bogus", "✗ swap conductor bogus: rejected: swap: conductor.kind: unknown kind 'bogus'"),
        ("provider remove nobody", "✗ provider remove nobody: rejected: provider remove nobody: no provider named"),
        ("provider reset scripted", "→ provider reset scripted: provider reset scripted: providers now scripted ●"),
        ("help", "any words"),
    ]:
        screen.type(line + "\r")
        screen.wait_for(*answers)
    screen.wait_for_match(r'♪ bar \d+: "darker" → darker: remove')  # the conductor's own answer, at its 4-bar line
    screen.type("stop\r")
    screen.wait_for("→ stop: winding down: a ")
    assert screen.finish() == 0
    summary = screen.text[screen.text.rindex("set          ") :]
    assert ", stopped" in summary.splitlines()[0] and "commands     8 given, 2 rejected" in summary, summary
    log = next(tmp_path.glob("*.bgnlog"))
    assert main(["replay", str(log), "--verify"]) == 0
    replayed = tmp_path / "replayed.wav"
    assert main(["replay", str(log), "--wav", str(replayed)]) == 0
    assert replayed.read_bytes() == log.with_suffix(".wav").read_bytes()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("how", list(STARTS), ids=["plain", "started-with-sigint-blocked", "started-ignoring-it"])
def test_ctrl_c_under_the_display_prints_the_summary(terminal, tmp_path: Path, how: str):
    scenario = str(ROOT / "scenarios" / "autopilot.toml")
    args = ("run", scenario, "--no-audio", "--minutes", "500", "--out", str(tmp_path), "--no-report")
    screen = terminal(*args, how=how)
    screen.wait_for("bar ", "layers", "> ")
    screen.type("\x03")
    assert screen.finish() == 130
    assert "interrupted" in screen.text and "set          autopilot — " in screen.text


def test_plain_lines_tell_one_line_per_decision_and_json_lines_are_for_machines(tmp_path, capsys):
    scenario = str(ROOT / "scenarios" / "autopilot.toml")

    def run(folder: str, *flags: str) -> int:
        return main(["run", scenario, "--fast", "--bars", "64", "--out", str(tmp_path / folder), "--no-report", *flags])

    assert run("plain") == 0  # pytest's stdout is not a terminal: plain lines
    out = capsys.readouterr().out.splitlines()
    told = [line for line in out if line.startswith("bar ")]
    assert told and all(" · " in line for line in told)
    decisions = [line for line in told if re.search(r"energy \d\.\d\d/\d\.\d\d · ", line)]
    assert decisions and len({line.split(" · ")[0] for line in decisions}) == len(decisions)  # one per bar
    assert run("json", "--log-format", "json") == 0
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.err.splitlines() if line.startswith("{")]
    types = {line.get("type") for line in lines}
    assert {"SetStarted", "BarPlanned", "BarPlayed", "SetEnded"} <= types
    assert sum(line.get("type") == "BarPlayed" for line in lines) == 64
    assert captured.out.startswith("set          autopilot — 64/64 bars")


@pytest.mark.timeout(120)
def test_fast_renders_show_a_progress_bar_with_bars_per_second(terminal, tmp_path: Path):
    scenario = str(ROOT / "scenarios" / "autopilot.toml")
    screen = terminal("run", scenario, "--fast", "--minutes", "8", "--out", str(tmp_path), "--no-report")
    screen.wait_for_match(r"rendering .* \d+/256 bars · \d+ bars/s · \d+:\d\d:\d\d")
    assert screen.finish() == 0
    assert "set          autopilot — 256/256 bars" in screen.text
