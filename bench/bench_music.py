"""How does a set sound? Renders fixed-seed 8-minute sets for each brain and prints what a listener would notice:
loudness (ITU-R BS.1770), the breakdown-to-peak range, brightness and loudness per phrase, stereo width, how many
layer combinations, the longest stretch that never changes, refused moves, phrases that change, phases off the
16-bar grid, silent seconds and whether the outro ends on a kick.

    .venv/bin/python bench/bench_music.py [--brains autopilot,phrase-scripted,rlm-scripted,phrase-local]
        [--minutes 8] [--seed 7] [--briefs]

`--briefs` plays each brain once per brief (the scenario's, "minimal and sparse", "dark hypnotic warehouse",
"euphoric peak-time") on the same seed and prints what the brief changed: layers in the peaks, spectral centroid,
loudness of the peaks, against the scenario's brief.

`phrase-local` starts the embedded LM (llama.cpp + SmolLM2-135M in a child process) and takes about a minute.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgspec
import soundfile as sf
import structlog
import trio
from rich.console import Console
from rich.table import Table

from bergain_actors.assess import SetReport, assess
from bergain_actors.core import scenario as scenarios
from bergain_actors.core.log import LogReader
from bergain_actors.evaluate.grid import BRAINS
from bergain_actors.performance import perform

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


BRIEFS = ("minimal and sparse", "dark hypnotic warehouse", "euphoric peak-time")
"""Briefs that must each move the set their own way (issue 18.5): fewer layers, darker, brighter and louder."""


async def one_set(name: str, minutes: float, seed: int, tmp: Path, brief: str | None = None) -> SetReport:
    scenario, text = scenarios.load(SCENARIOS / BRAINS[name])
    scenario = scenarios.replace(scenario, minutes=minutes, bars=None, seed=seed)
    if brief is not None:
        scenario = msgspec.structs.replace(scenario, conductor=msgspec.structs.replace(scenario.conductor, brief=brief))
    stem = f"{name}-{BRIEFS.index(brief) if brief in BRIEFS else 'scenario'}"
    result = await perform(scenario, text, log_path=tmp / f"{stem}.bgnlog", wav_path=tmp / f"{stem}.wav")
    audio, rate = sf.read(result.wav_path, dtype="float32", always_2d=True)
    return assess(list(LogReader(result.log_path)), audio, rate, scenario.conductor.phrase_bars)


def show(reports: dict[str, SetReport]) -> None:
    console = Console(width=160)
    table = Table(title="targets: off grid 0, silent 0, refused ≤ 5 %, combos ≥ 16, corr ≤ 0.85, BD→peak ≥ 6 LU")
    for column in (
        "brain", "LUFS", "BD→peak LU", "stereo corr", "corr >150 Hz", "combos", "role sets", "longest run",
        "same phrases", "refused", "phrases changed", "off grid", "silent s", "outro kick",
    ):  # fmt: skip
        table.add_column(column, justify="left" if column == "brain" else "right")
    for name, r in reports.items():
        table.add_row(
            name,
            f"{r.lufs:.1f}",
            "-" if math.isnan(r.breakdown_to_peak_lu) else f"{r.breakdown_to_peak_lu:.1f}",
            f"{r.stereo_correlation:.3f}",
            f"{r.highs_correlation:.3f}",
            str(r.combinations),
            str(r.role_combinations),
            f"{r.longest_identical_run} bars",
            str(r.identical_consecutive_phrases),
            f"{r.refused}/{r.moves} ({100 * r.refused_rate:.0f} %)",
            f"{r.phrases_changed}/{r.phrases_compared}",
            str(len(r.phases_off_grid)) + (f" {list(r.phases_off_grid)}" if r.phases_off_grid else ""),
            str(r.silent_seconds),
            "yes" if r.outro_end_has_kick else "NO",
        )
    console.print(table)
    for name, r in reports.items():
        console.print(f"[bold]{name}[/] per 16-bar phrase (phase: LUFS / centroid Hz):")
        cells = [
            f"{phase[:4]} {lufs:.1f}/{hz}"
            for phase, lufs, hz in zip(r.phrase_phase, r.phrase_lufs, r.phrase_centroid_hz, strict=True)
        ]
        for i in range(0, len(cells), 8):
            console.print("  " + "  ".join(cells[i : i + 8]))


def show_briefs(reports: dict[tuple[str, str], SetReport]) -> None:
    table = Table(title="the brief: minimal → fewer peak layers; dark → lower centroid; euphoric → brighter, louder")
    for column in ("brain", "brief", "peak layers", "centroid Hz", "peak LUFS", "LUFS", "vs scenario's brief"):
        table.add_column(column, justify="left" if column in ("brain", "brief") else "right")
    for (name, brief), r in reports.items():
        base = reports[(name, "(scenario's)")]
        moved = (
            f"layers {r.peak_layers - base.peak_layers:+.2f}, centroid {r.centroid_hz - base.centroid_hz:+.0f} Hz, "
            f"peaks {r.peak_lufs - base.peak_lufs:+.1f} LU"
        )
        table.add_row(name, brief, f"{r.peak_layers:.2f}", f"{r.centroid_hz:.0f}", f"{r.peak_lufs:.1f}",
                      f"{r.lufs:.1f}", "-" if r is base else moved)  # fmt: skip
    Console(width=160).print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brains", default=",".join(BRAINS))
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--briefs", action="store_true", help="each brain under each brief in BRIEFS")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    reports = {}
    by_brief = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.brains.split(","):
            if name not in BRAINS:
                raise SystemExit(f"--brains: unknown brain {name!r} (known: {', '.join(BRAINS)})")
            reports[name] = trio.run(one_set, name, args.minutes, args.seed, Path(tmp))
            if args.briefs:
                by_brief[(name, "(scenario's)")] = reports[name]
                for brief in BRIEFS:
                    by_brief[(name, brief)] = trio.run(one_set, name, args.minutes, args.seed, Path(tmp), brief)
    show(reports)
    if by_brief:
        show_briefs(by_brief)


if __name__ == "__main__":
    main()
