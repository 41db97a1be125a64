"""How fast do plans become MIDI? Prints a table: ``bar_notes`` per bar over a real autopilot set, writing that set
as a MIDI file (``replay --midi``'s work after reading the log).

The set is played offline in-process first (not timed). Live mode needs ``bar_notes`` once per bar, ahead of the
bar, so its budget is a bar (1.875 s at 128 BPM); the export has no budget but a person waiting.

Run: .venv/bin/python bench/bench_midi.py [--minutes 60]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

import trio
from rich.console import Console
from rich.table import Table

from bergain_actors.core.log import LogReader
from bergain_actors.core.scenario import PACKAGE_ROOT, load, replace
from bergain_actors.music.midi_file import write_midi
from bergain_actors.music.notes import bar_notes
from bergain_actors.music.theory import set_theory
from bergain_actors.performance import perform, set_paths
from bergain_actors.replay import played_plans


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        scenario = replace(load(PACKAGE_ROOT / "scenarios" / "autopilot.toml")[0], minutes=args.minutes, bars=None)
        log_path, wav_path = set_paths(scenario, out, stamp="bench")
        trio.run(lambda: perform(scenario, "", log_path=log_path, wav_path=wav_path))
        plans = list(played_plans(LogReader(log_path)))
    theory = set_theory(scenario.seed, scenario.key)

    per_bar = []
    for plan in plans:
        start = time.perf_counter()
        bar_notes(plan, theory)
        per_bar.append((time.perf_counter() - start) * 1e3)
    notes = sum(len(n) for plan in plans for n in bar_notes(plan, theory).values())

    writes = []
    for _ in range(3):
        buffer = io.BytesIO()
        start = time.perf_counter()
        write_midi(plans, theory, buffer)
        writes.append(time.perf_counter() - start)

    table = Table(title=f"plans → MIDI ({len(plans)} bars, {notes:,} notes, this machine)")
    table.add_column("what")
    table.add_column("figure", justify="right")
    cuts = statistics.quantiles(per_bar, n=100)
    table.add_row("bar_notes per bar, p50 / p99", f"{statistics.median(per_bar):.3f} / {cuts[98]:.3f} ms")
    table.add_row(f"write_midi, {args.minutes:g}-minute set (best of 3)", f"{min(writes):.2f} s")
    table.add_row("  file size", f"{len(buffer.getvalue()) / 1024:,.0f} KiB")
    Console().print(table)


if __name__ == "__main__":
    main()
