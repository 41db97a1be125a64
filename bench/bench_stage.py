"""What the stage costs: the live display, the narration, a command's round trip, and the set report.

Plays one 8-minute autopilot set offline (256 bars), then measures on its events:
- narration and the display's board: events per second they take in;
- one display frame rendered by rich (120 columns, to a string): median / p95 ms (the display draws 10 a second);
- ``Desk.submit`` of a command (parse, log, cascade, answer) in a running set's bus: median / p95 ms;
- the report: series from the log, and the whole HTML page with its seven plots.

Run: .venv/bin/python bench/bench_stage.py
"""

from __future__ import annotations

import io
import statistics
import tempfile
import time
from pathlib import Path

import trio
from rich.console import Console
from rich.table import Table

from bergain_actors.control import Desk
from bergain_actors.core import scenario as scenarios
from bergain_actors.core.log import read_all
from bergain_actors.display.board import Board
from bergain_actors.display.editor import LineEditor
from bergain_actors.display.live import render
from bergain_actors.display.narrate import Narrator
from bergain_actors.performance import perform, set_paths
from bergain_actors.report import series, write_report

ROOT = Path(__file__).resolve().parent.parent


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def p95(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.95) - 1]


def main() -> None:
    scenario, text = scenarios.load(ROOT / "scenarios" / "autopilot.toml")
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        scenario = scenarios.replace(scenario, minutes=8.0, bars=None, log_dir=tmp)
        log_path, wav_path = set_paths(scenario, Path(tmp), stamp="bench")
        submits: list[float] = []

        async def performer(desk: Desk) -> None:
            for line in ["darker", "energy +", "hold", "resume", "swap critic arc", "more tension"] * 10:
                start = time.perf_counter()
                desk.submit(line)
                submits.append((time.perf_counter() - start) * 1000)
                await trio.sleep(0)

        trio.run(lambda: perform(scenario, text, log_path=log_path, wav_path=wav_path, controls=performer))
        _, events, _ = read_all(log_path)

        start = time.perf_counter()
        narrator = Narrator()
        told = sum(len(narrator.lines(e)) for e in events)
        narrate_s = time.perf_counter() - start
        board = Board()
        start = time.perf_counter()
        for event in events:
            board.add(event)
        board_s = time.perf_counter() - start
        console = Console(file=io.StringIO(), width=120, force_terminal=True)
        frames = timed(lambda: console.print(render(board, LineEditor(), 1)), 200)
        series_ms = timed(lambda: series(events), 20)
        page_ms = timed(lambda: write_report(log_path, Path(tmp) / "report"), 3)

    rows += [
        ("events in the 8-minute set", f"{len(events):,}"),
        ("narration", f"{len(events) / narrate_s:,.0f} events/s ({told} lines)"),
        ("display board", f"{len(events) / board_s:,.0f} events/s"),
        ("display frame (rich, 120 cols)", f"median {statistics.median(frames):.2f} ms, p95 {p95(frames):.2f} ms"),
        ("Desk.submit in a running set", f"median {statistics.median(submits):.3f} ms, p95 {p95(submits):.3f} ms"),
        ("report series from the log", f"median {statistics.median(series_ms):.1f} ms"),
        ("report page (7 plots, HTML)", f"median {statistics.median(page_ms) / 1000:.2f} s"),
    ]
    table = Table(title="bench_stage: display, commands, report")
    table.add_column("what")
    table.add_column("figure", justify="right")
    for what, figure in rows:
        table.add_row(what, figure)
    Console().print(table)


if __name__ == "__main__":
    main()
