"""What hearing and choosing cost: the streamer's measurement of each bar (``music/hearing.py``, paid on every bar
of every set), the audio critic's judgement, and building the phrase brain's menu (``actors/conductor/menu.py``).

    .venv/bin/python bench/bench_critics.py [--bars 256]

It plays one fixed-seed autopilot set offline, then times each piece on that set's own bars and mixes.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import soundfile as sf
import structlog
import trio
from rich.console import Console
from rich.table import Table

from bergain_actors.actors.conductor import menu
from bergain_actors.actors.conductor.brief import tone
from bergain_actors.core import events as ev
from bergain_actors.core import scenario as scenarios
from bergain_actors.core.log import LogReader
from bergain_actors.music import arc
from bergain_actors.music.critique import PlayedBar, hear_critique
from bergain_actors.music.hearing import hear
from bergain_actors.music.mixer import Mixer, menu_from_pack
from bergain_actors.performance import load_pack, perform

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "autopilot.toml"


def timed(fn, runs: int) -> list[float]:
    """Milliseconds of each of ``runs`` calls."""
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=256)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    scenario, text = scenarios.load(SCENARIO)
    scenario = scenarios.replace(scenario, minutes=None, bars=args.bars)
    with tempfile.TemporaryDirectory() as tmp:
        log, wav = Path(tmp) / "set.bgnlog", Path(tmp) / "set.wav"
        trio.run(lambda: perform(scenario, text, log_path=log, wav_path=wav))
        events = list(LogReader(log))
        audio, rate = sf.read(wav, dtype="float32", always_2d=True)
    plans = {e.seq: e.plan for e in events if isinstance(e, ev.BarPlanned)}
    played = [e for e in events if isinstance(e, ev.BarPlayed)]
    n = round(scenario.beats_per_bar * 60 / scenario.bpm * rate)
    bars = [audio[i * n : (i + 1) * n] for i in range(len(played))]

    hearing = [t for bar in bars for t in timed(lambda bar=bar: hear(bar, rate, scenario.beats_per_bar), 1)]
    window = [PlayedBar(e.bar, plans[e.plan_seq], e.held, e.rms, e.peak, e.gain_reduction_db, e.heard) for e in played]
    judging = [
        t
        for end in range(8, len(window), 8)
        for t in timed(lambda end=end: hear_critique(window[:end], total_bars=len(window), every_bars=8), 1)
    ]
    mixers = []
    pack_menu = menu_from_pack(load_pack(scenario))
    for e in played[:: scenario.conductor.phrase_bars]:
        mixer = Mixer.from_plan(plans[e.plan_seq], pack_menu)
        phase, target, cap = arc.phase_at(e.bar, len(played), scenario.conductor.phrase_bars)
        mixers.append((mixer, menu.Moment(bar=e.bar, phase=phase, target=target, cap=cap, total=len(played))))
    dark = tone(scenario.conductor.brief)
    building = [
        t
        for mixer, moment in mixers
        for t in timed(lambda m=mixer, o=moment: menu.build(m, o, dark, random.Random(0)), 5)
    ]

    table = Table(title=f"{len(played)} bars of a fixed-seed autopilot set ({rate} Hz)")
    for column in ("what", "calls", "p50 ms", "p95 ms", "max ms"):
        table.add_column(column, justify="left" if column == "what" else "right")
    for name, samples in (
        ("hear one bar (streamer, every bar)", hearing),
        ("audio critic judges 8 bars", judging),
        ("phrase menu built (per phrase)", building),
    ):
        ordered = sorted(samples)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        table.add_row(name, str(len(samples)), f"{statistics.median(samples):.3f}", f"{p95:.3f}", f"{ordered[-1]:.3f}")
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
