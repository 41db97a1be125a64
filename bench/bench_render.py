"""How fast does the renderer turn one BarPlan into audio? Prints median / p95 ms per bar, steady and cold, wall
time and this thread's CPU time (the figure to trust on a loaded machine), and real-time factor.

Bars are 4/4 at 128 BPM, 44.1 kHz stereo, from the shipped sample pack. "Hits" counts one-shot onsets in the bar
(each tick of each hit layer); loop layers are counted as layers, not hits. bergain's measured pydub renderer
took about 4.6-4.9 ms for its 6-layer, 22-hit bar.

The renderer caches what does not change from bar to bar (filtered and widened copies of samples, the spectrum a
one-shot's filter sweep works on). *Steady* is a bar after 50 warm-up bars, when the case's copies are all made;
*cold* is one of the first 16 bars of a fresh renderer (loops already stretched by ``prepare``, as a set does),
where a one-shot's sweep makes a new filtered copy at each cutoff step (a loop's sweep filters its beats each bar).
A set pays the steady cost for most bars and the cold cost when a layer or cutoff step is new; ``--log`` times
every bar of a logged set to show the mix.

Run: .venv/bin/python bench/bench_render.py [--bars 400] [--log path/to/set.bgnlog]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
from rich.console import Console
from rich.table import Table

from bergain_actors import replay
from bergain_actors.core.log import LogReader
from bergain_actors.music.mixer import placed
from bergain_actors.music.pack import SamplePack, index_pack
from bergain_actors.music.patterns import pattern_hits
from bergain_actors.music.plan import BarPlan, Filter, Layer
from bergain_actors.music.render import Renderer, forget_copies

PACK = Path(__file__).resolve().parent.parent / "sample_pack"
SR = 44100
BPM = 128.0


def hit(role: str, sample: str, gain: float, pattern: str, pan: float = 0.0) -> Layer:
    return Layer(role, sample, gain, "hit", pattern_hits(pattern), pattern, pan=pan)


def loop(role: str, sample: str, gain: float) -> Layer:
    return Layer(role, sample, gain, "loop")


REFERENCE = (
    hit("kick", "kick/kick_punch_A.wav", 0.9, "four_on_floor"),
    hit("hihat", "hihat/hat_closed_tight.wav", 0.57, "offbeat_8ths"),
    hit("clap", "clap/clap_909.wav", 0.47, "backbeat"),
    loop("bassline", "bassline/bassline_rolling_A_128bpm_1bar_loop.wav", 0.67),
    hit("perc", "perc/rim_shot.wav", 0.42, "syncopated_a"),
    loop("texture", "texture/pad_Am9_128bpm_4bar_loop.wav", 0.38),
)
"""bergain's bar as specified: 4 + 4 + 2 + 2 = 12 one-shot onsets and two loops."""

REFERENCE_22 = (
    hit("kick", "kick/kick_punch_A.wav", 0.9, "four_on_floor"),
    hit("hihat", "hihat/hat_closed_tight.wav", 0.57, "straight_8ths"),
    hit("clap", "clap/clap_909.wav", 0.47, "backbeat"),
    loop("bassline", "bassline/bassline_rolling_A_128bpm_1bar_loop.wav", 0.67),
    hit("perc", "perc/shaker.wav", 0.42, "straight_8ths"),
    loop("texture", "texture/pad_Am9_128bpm_4bar_loop.wav", 0.38),
)
"""The same six layers with busier hats and perc so the onsets reach bergain's 22: 4 + 8 + 2 + 8."""

DENSE = (
    hit("kick", "kick/kick_rumble_A.wav", 0.9, "four_on_floor"),
    hit("hihat", "hihat/hat_closed_metal.wav", 0.4, "sixteenths", pan=0.2),
    hit("hihat", "hihat/hat_open_808.wav", 0.45, "offbeat_8ths", pan=-0.2),
    hit("clap", "clap/clap_hall.wav", 0.45, "backbeat"),
    hit("snare", "snare/snare_tight.wav", 0.3, "syncopated_b"),
    hit("perc", "perc/rim_shot.wav", 0.35, "offbeat_16ths", pan=0.4),
    hit("perc", "perc/shaker.wav", 0.3, "sixteenths", pan=-0.4),
    hit("ride", "ride/ride_wash.wav", 0.3, "straight_8ths"),
    hit("perc", "perc/tom_low.wav", 0.4, "gallop"),
    loop("bassline", "bassline/bassline_offbeat_A_128bpm_2bar_loop.wav", 0.6),
    loop("texture", "texture/pad_Am9_128bpm_4bar_loop.wav", 0.35),
    loop("drum_loop", "drum_loop/drum_loop_tops_128bpm_1bar_loop.wav", 0.4),
)
"""12 layers, 4 + 16 + 4 + 2 + 2 + 8 + 16 + 8 + 4 = 64 one-shot onsets, three loops."""


def automated(bar: int) -> tuple[Layer, ...]:
    """The dense bar with a mix in motion: a low-pass opening on the bassline and the pad over 16 bars (per-beat
    cutoff steps), a high-pass rising on the drum loop, gain ramps, hats and percs spread (pan, Haas width), and
    sends from clap, snare, perc and the pad into the ping-pong delay."""
    pos = bar % 16
    sweep = Filter("lowpass", 200.0 * 1.3**pos, 200.0 * 1.3 ** (pos + 1), q=1.4)
    rising = Filter("highpass", 40.0 * 1.25**pos, 40.0 * 1.25 ** (pos + 1), q=1.2)
    layers = {layer.sample: layer for layer in DENSE}
    changed = {
        "bassline/bassline_offbeat_A_128bpm_2bar_loop.wav": {"filter": sweep},
        "texture/pad_Am9_128bpm_4bar_loop.wav": {"filter": sweep, "width": 0.8, "send": 0.3, "gain_end": 0.45},
        "drum_loop/drum_loop_tops_128bpm_1bar_loop.wav": {"filter": rising, "gain_end": 0.2},
        "hihat/hat_closed_metal.wav": {"width": 0.5},
        "hihat/hat_open_808.wav": {"width": 0.6},
        "clap/clap_hall.wav": {"send": 0.35},
        "snare/snare_tight.wav": {"send": 0.3, "gain_end": 0.5},
        "perc/rim_shot.wav": {"send": 0.25, "width": 0.4},
    }
    for sample, fields in changed.items():
        layers[sample] = msgspec.structs.replace(layers[sample], **fields)
    return tuple(layers.values())


def placed_automated(bar: int) -> tuple[Layer, ...]:
    """The automated dense bar with each layer placed as the mixer places its role (pan, width, delay send and
    reverb from ``mixer.STEREO``): what a set's dense bar carries, reverb tails on the percs, claps and snares
    included. Faders at 60 % so the added room stays under the limiter, as a set's mix would."""
    return tuple(
        placed(msgspec.structs.replace(layer, gain=0.6 * layer.gain, gain_end=layer.gain_end and 0.6 * layer.gain_end))
        for layer in automated(bar)
    )


def timed(renderer: Renderer, plan: BarPlan) -> tuple[float, float]:
    """(wall ms, CPU ms of this thread) to render ``plan``: the CPU figure holds on a loaded machine, where the
    wall figure also counts the time other processes held the core."""
    c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
    renderer.render(plan)
    return (time.perf_counter_ns() - t0) / 1e6, (time.thread_time_ns() - c0) / 1e6


def measure(
    renderer: Renderer, layers: tuple[Layer, ...] | Callable, bars: int, warmup: int = 50
) -> tuple[list[float], list[float]]:
    """Per-bar render times in ms, (wall, CPU); the bar number advances so loops walk through their bars."""
    wall, cpu = [], []
    for bar in range(warmup + bars):
        ms = timed(renderer, BarPlan(bar=bar, bpm=BPM, layers=layers(bar) if callable(layers) else layers))
        if bar >= warmup:
            wall.append(ms[0])
            cpu.append(ms[1])
    return wall, cpu


def cold(
    pack: SamplePack, layers: tuple[Layer, ...] | Callable, runs: int = 3, bars: int = 16
) -> tuple[list[float], list[float]]:
    """The first ``bars`` bars of ``runs`` fresh renderers, each prepared for the tempo as a set's is: (wall, CPU)."""
    wall, cpu = [], []
    for _ in range(runs):
        forget_copies()  # a fresh renderer of a fresh process: no copy made by an earlier one
        renderer = Renderer(pack, SR)
        renderer.prepare(BPM)
        times = measure(renderer, layers, bars, warmup=0)
        wall += times[0]
        cpu += times[1]
    return wall, cpu


def percentile(times: list[float], p: float) -> float:
    ordered = sorted(times)
    return ordered[int(p * (len(ordered) - 1))]


def p95(times: list[float]) -> float:
    return percentile(times, 0.95)


def logged_set(pack_dir: Path, log: Path) -> tuple[str, list[float], list[float], int]:
    """Every bar of a logged set rendered as ``replay --wav`` does: (label, wall and CPU ms per bar, bars that made
    a copy)."""
    scenario = replay.scenario_of(LogReader(log))
    pack = index_pack(scenario.path(scenario.sample_pack), scenario.sample_rate)
    forget_copies()  # as the set's own process rendered it
    renderer = Renderer(pack, scenario.sample_rate)
    renderer.prepare(scenario.bpm, scenario.beats_per_bar)
    wall, cpu, making = [], [], 0
    for plan in replay.played_plans(LogReader(log)):
        copies = renderer.copies_made
        ms = timed(renderer, plan)
        wall.append(ms[0])
        cpu.append(ms[1])
        making += renderer.copies_made != copies
    return f"{log.name}: every bar", wall, cpu, making


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=400)
    parser.add_argument("--log", type=Path, help="also time every bar of this logged set")
    args = parser.parse_args()
    pack = index_pack(PACK, SR)
    bar_ms = 4 * 60_000 / BPM
    cases = [
        ("(a) reference: 6 layers, 12 hits", REFERENCE),
        ("(a') reference: 6 layers, 22 hits", REFERENCE_22),
        ("(b) dense: 12 layers, 64 hits", DENSE),
        ("(c) dense + automation and effects", automated),
        ("(d) (c) placed by the mixer (+ reverb)", placed_automated),
    ]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    table = Table(
        title=f"ms per bar, wall and CPU (this thread's time.thread_time): steady = {args.bars} bars after 50 warm-up "
        f"bars, cold = first 16 bars of 3 fresh renderers; {SR} Hz stereo, {BPM:g} BPM (bar = {bar_ms:.1f} ms); "
        f"load average {load}"
    )
    columns = ("case", "steady median", "steady p95", "CPU median", "CPU p95", "cold median", "cold p95", "cold CPU")
    for column in (*columns, "RTF steady", "limited"):
        table.add_column(column, justify="left" if column == "case" else "right")
    for name, layers in cases:
        renderer = Renderer(pack, SR)
        steady, cpu = measure(renderer, layers, args.bars)
        first, first_cpu = cold(pack, layers)
        median = statistics.median(steady)
        table.add_row(
            name,
            *(f"{f(times):.3f}" for times in (steady, cpu) for f in (statistics.median, p95)),
            *(f"{f(first):.3f}" for f in (statistics.median, p95)),
            f"{statistics.median(first_cpu):.3f}",
            f"{bar_ms / median:.0f}x",
            str(renderer.limiter_engaged_frames),
        )
    if args.log is not None:
        name, times, cpu, making = logged_set(PACK, args.log)
        table.add_row(
            name,
            *(f"{f(t):.3f}" for t in (times, cpu) for f in (statistics.median, p95)),
            f"{making} bars made copies",
            f"mean {statistics.fmean(times):.3f}",
            f"mean {statistics.fmean(cpu):.3f}",
            f"{bar_ms / statistics.median(times):.0f}x",
            "",
        )
    Console(width=170).print(table)


if __name__ == "__main__":
    main()
