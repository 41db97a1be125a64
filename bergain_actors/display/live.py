"""The live display on a terminal (rich), driven from the set's trio loop: a task redraws ``Live`` four times a
second with ``auto_refresh`` off, so rich starts no thread of its own; another reads keys (cbreak mode, no echo)
into the command line. Also the ``--fast`` progress bar.
"""

from __future__ import annotations

import os
import sys
import termios
import time
import tty
from collections.abc import Iterator
from contextlib import contextmanager

import trio
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from bergain_actors.control.desk import Desk
from bergain_actors.display.board import Board
from bergain_actors.display.editor import LineEditor
from bergain_actors.display.narrate import LIGHTS

FRAME_S = 0.25
"""Four frames a second: a beat counter stays honest, and a frame (~12 ms of rich) costs the loop ~3 %."""
METER = 24


def meter(value: float, width: int = METER) -> str:
    filled = max(0, min(width, round(value * width)))
    return "█" * filled + "░" * (width - filled)


def render(board: Board, editor: LineEditor, beat: int) -> Group:
    """One frame of the display."""
    head = Text.assemble(
        (f"bar {max(board.bar + 1, 0)}.{beat}", "bold"),
        f" / {board.total}   ",
        ("phase ", "dim"),
        (board.phase or "-", "bold magenta"),
        ("   brain ", "dim"),
        (board.brain or "-", "bold cyan"),
        ("   stalls ", "dim"),
        str(board.holds),
        ("   held ", "dim"),
        f"{board.held_bars} bars",
        ("   underflows ", "dim"),
        str(board.underflows),
        (f"   {board.rms_db:.0f} dBFS", "dim"),
        ("   HOLDING (resume to let it change)" if board.holding else "", "bold yellow"),
    )
    energy = Table.grid(padding=(0, 1))
    energy.add_row("energy", Text(meter(board.energy), "red"), f"{board.energy:.2f}")
    energy.add_row("target", Text(meter(board.target), "white"), f"{board.target:.2f}")
    layers = Table.grid(padding=(0, 1))
    for layer in board.playing.layers if board.playing is not None else ():
        layers.add_row(layer.role, Text(meter(layer.gain, 16), "green"), f"{layer.gain:.2f}", layer.pattern)
    upcoming = "   ".join(f"{what} (in {bars} bars)" for bars, what in board.upcoming()[:2])
    providers = "  ".join(
        f"{name} {LIGHTS.get(state, '?')}" + (f" {board.latency[name]:.0f} ms" if name in board.latency else "")
        for name, state in board.providers.items()
    )
    thinking = Text("\n".join(board.thinking) or "…", "white")
    critic = Text("\n".join(board.critic) or "—", "yellow")
    answers = Text("\n".join(board.answers), "cyan")
    prompt = Text.assemble(("> ", "bold"), editor.text, ("▏", "blink"))
    title = f"bergain-actors · {board.name} · {board.bpm:g} BPM"
    body = Group(
        head,
        energy,
        Panel(layers, title="layers", title_align="left", border_style="dim"),
        Text.assemble(("next  ", "dim"), upcoming or "—"),
        Text.assemble(("providers  ", "dim"), providers or "none (no LM in this set)"),
        Text.assemble(
            ("audio  ", "dim"),
            (board.device or "—", "green" if board.device_ok else "bold red"),
            ("   Ableton  " if board.ableton else "", "dim"),
            board.ableton,
            (f"   {len(board.live_bars_off)} bars not as planned" if board.live_bars_off else "", "bold red"),
        ),
        Panel(thinking, title="the brain, one line per decision", title_align="left", border_style="dim"),
        Panel(critic, title="critic", title_align="left", border_style="dim"),
        answers,
        prompt,
        Text("type a command or any words to steer ('help'); Ctrl-C ends with a summary", "dim"),
    )
    return Group(Panel(body, title=title, title_align="left"))


@contextmanager
def cbreak(fd: int) -> Iterator[None]:
    """Keys arrive one by one and are not echoed (Ctrl-C still interrupts); the terminal is restored after."""
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


async def dashboard(desk: Desk, board: Board, console: Console) -> None:
    """The live display and its command line, until the set ends (cancelled with the set's nursery)."""
    editor = LineEditor()
    fd = sys.stdin.fileno()
    typing = sys.stdin.isatty()
    last_bar, since = board.bar, time.monotonic()

    def frame() -> Group:
        nonlocal last_bar, since
        if board.bar != last_bar:
            last_bar, since = board.bar, time.monotonic()
        beat_s = 60 / board.bpm if board.bpm else 1.0
        beat = min(board.beats_per_bar, int((time.monotonic() - since) / beat_s) + 1)
        return render(board, editor, beat)

    async def keys(live: Live) -> None:
        while True:
            await trio.lowlevel.wait_readable(fd)
            try:
                data = os.read(fd, 1024)
            except OSError:  # the terminal went away: the display and the set carry on without keys
                return
            if not data:
                return
            for line in editor.feed(data.decode(errors="replace")):
                answer = desk.submit(line)
                board.answer(("→ " if answer.ok else "✗ ") + f"{line}: {answer.text}")
            live.update(frame(), refresh=True)  # what was typed, and its answer, at once

    with cbreak(fd) if typing else _nothing(), Live(frame(), console=console, auto_refresh=False) as live:
        async with trio.open_nursery() as nursery:
            if typing:
                nursery.start_soon(keys, live)
            while True:
                live.update(frame(), refresh=True)
                await trio.sleep(FRAME_S)


@contextmanager
def _nothing() -> Iterator[None]:
    yield


async def progress(board: Board, console: Console) -> None:
    """``--fast``: a progress bar with bars/s and the time left, redrawn from the set's loop."""
    columns = (
        TextColumn("rendering"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("bars · {task.fields[rate]:.0f} bars/s ·"),
        TimeRemainingColumn(),
    )
    started = time.monotonic()
    with Progress(*columns, console=console, auto_refresh=False, transient=True) as bar:
        task = bar.add_task("set", total=None, rate=0.0)
        while True:
            done = board.bar + 1
            rate = done / max(time.monotonic() - started, 1e-6)
            bar.update(task, total=board.end if board.end > 0 else None, completed=done, rate=rate)
            bar.refresh()
            await trio.sleep(FRAME_S)
