"""Transitions a DJ plays between sections, added to the planned bars: fills in the last bar of a phrase, a riser
and a snare roll into a drop while the mix is high-passed, an impact and a crash on the one of the drop, a
downlifter into the breakdown; and under every bar the room's bed, a wide atmosphere whose level follows the arc.

Pure: a function of the plan, the arc (set length, phrase length) and the pack's menu, so every brain gets the
same transitions and a replay the same bars. Ornaments are the arrangement's layers with roles of their own
(``ORNAMENTS``: one-bar transitions and the bed), never channels of the mixer: a restarted Conductor does not pick
them up as part of the groove, and they count as no texture of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from bergain_actors.music import arc
from bergain_actors.music.patterns import steps16
from bergain_actors.music.plan import TICKS_PER_BEAT, BarPlan, Filter, Layer

BED = "bed"
ORNAMENTS = frozenset({"riser", "impact", "crash", "fill", "roll", "downlifter", BED})
DROPS = frozenset({"peak", "peak2"})
BUILD_BARS = 8
"""How long the build into a drop lasts (at most half the section before it)."""
THINNED = frozenset({"bassline", "bass", "texture", "synth", "hihat", "ride", "drum_loop", "perc"})
"""Roles the build high-passes toward the drop (the kick and claps keep punching)."""

FILLS: tuple[tuple[str, str, str, float], ...] = (
    # (role in the menu, word in the sample id, sixteenth steps in the last bar, gain)
    ("snare", "tight", "............x.xx", 0.32),
    ("perc", "tom", "............x.x.", 0.42),
    ("hihat", "open", "..............x.", 0.3),
    ("clap", "", "............x..x", 0.3),
    ("snare", "909", "..........x.xxxx", 0.28),
)
"""Ways to end a phrase; the phrase's number picks one, so consecutive phrases end differently."""

BED_LEVEL = {"intro": 0.36, "build": 0.42, "peak": 0.5, "breakdown": 0.05, "peak2": 0.5, "outro": 0.36}
"""The bed's level per phase (the renderer's house trim brings it up to 5-6 LU under the mix): lighter in the
sparse intro and outro, where it is most exposed, fuller under the dense peaks, and almost none in the breakdown,
left to the pad, which must stay well under the peaks."""
BED_HZ = 250.0
"""The bed is high-passed here: its drone stays out of the kick's and the bass's way (at 180 Hz its low mids still
blurred the kick's onsets in the intro), and what is left is wide."""
BED_WIDTH = 0.6
"""Enough decorrelated side to make the bed's left and right unrelated (correlation ~0), not opposed: its mono sum
keeps the bed at -3 dB, as any wide source."""
BED_FADE_BARS = 8
"""The bed fades out over the set's last bars (the kick plays to the end)."""
WIND_DOWN_ENERGY = 0.4
"""Winding down after a stop, the bed fades with the mix's energy under this."""


def find(menu: Mapping[str, Sequence[Any]], role: str, word: str = "", loops: bool = False) -> str | None:
    """The first sample of ``role`` (only its loops with ``loops``) whose id contains ``word`` (any of the role
    when none does)."""
    ids = [info.id for info in menu.get(role, ()) if not loops or info.is_loop]
    return next((i for i in ids if word in i.rsplit("/", 1)[-1]), ids[0] if ids else None)


def dress(
    plan: BarPlan,
    total: int,
    phrase_bars: int,
    menu: Mapping[str, Sequence[Any]],
    hold: bool = False,
    held: Layer | None = None,
) -> BarPlan:
    """``plan`` with the bed under it and the transitions its place in the arc calls for. While a person holds the
    groove nothing changes: no transition, and the bed stays as it was (``held``: the last bar's, ``bed_of``)."""
    under = held if hold and held is not None else bed(plan, total, phrase_bars, menu)
    if under is not None:
        plan = msgspec.structs.replace(plan, layers=(*plan.layers, under))
    if hold:
        return plan
    bar = plan.bar
    sections = arc.sections(total, phrase_bars)
    here = arc.section_at(bar, total, phrase_bars)
    index = sections.index(here)
    following = sections[index + 1] if index + 1 < len(sections) else None
    unit = arc.grid(total, phrase_bars)
    left = here.end - bar
    if (plan.phase and plan.phase != here.name) or (following is None and left == 1):
        return plan  # off the arc (a stop winding down) or the set's last bar: no seam to mark
    bar_ticks = plan.beats_per_bar * TICKS_PER_BEAT
    extra: list[Layer] = []
    layers = list(plan.layers)

    def hit(role: str, sample: str | None, gain: float, ticks: tuple[int, ...], **more: Any) -> None:
        if sample is not None:
            extra.append(Layer(role, sample, gain, hits=tuple(t for t in ticks if t < bar_ticks), **more))

    if bar == here.start and here.name in DROPS and index > 0:
        hit("impact", find(menu, "fx", "impact"), 0.5, (0,), send=0.2, reverb=0.4)
        hit("crash", find(menu, "ride", "wash"), 0.4, (0,), pan=-0.2, width=0.9, send=0.3, reverb=0.6)
    if bar == here.start and here.name == "breakdown":
        hit("downlifter", find(menu, "fx", "down"), 0.45, (0,), width=0.8, send=0.3, reverb=0.5)
    build = min(BUILD_BARS, (here.end - here.start) // 2) if following is not None and following.name in DROPS else 0
    if left <= build:
        done = (build - left) / build
        step = 1.0 / build
        if left == 2 or (left == 1 and build == 1):
            hit("riser", find(menu, "fx", "riser"), 0.42, (0,), width=0.9, reverb=0.3)
        rate = 16 if left <= max(1, build // 4) else 8 if left <= build // 2 else 4
        ticks = tuple(range(0, bar_ticks, bar_ticks // rate))
        hit(
            "roll",
            find(menu, "snare", "tight"),
            round(0.12 + 0.3 * done, 3),
            ticks,
            gain_end=round(0.12 + 0.3 * (done + step), 3),
            send=0.2,
            width=0.5,
            reverb=0.3,
        )
        layers = [_thinned(layer, done, done + step) for layer in layers]
    elif left == 1 or (bar + 1) % unit == 0:
        role, word, steps, gain = FILLS[(bar // unit + (0 if left == 1 else 1)) % len(FILLS)]
        if here.name != "breakdown" or left == 1:
            pan = 0.2 if role == "perc" else 0.0
            hit("fill", find(menu, role, word), gain, steps16(steps), pan=pan, width=0.5, send=0.15, reverb=0.3)
    if not extra and layers == list(plan.layers):
        return plan
    return msgspec.structs.replace(plan, layers=(*layers, *extra))


def bed(plan: BarPlan, total: int, phrase_bars: int, menu: Mapping[str, Sequence[Any]]) -> Layer | None:
    """The room under ``plan``: the pack's atmosphere looping, high-passed and wide, at its phase's level; a phase
    change glides to the new level over its first bar. None when the pack has no texture loop to make it of."""
    sample = bed_sample(menu)
    if sample is None:
        return None
    here = arc.section_at(plan.bar, total, phrase_bars)
    level = BED_LEVEL.get(here.name, BED_LEVEL["intro"])
    start = level
    left = total - plan.bar
    if plan.phase and plan.phase != here.name:  # a stop winding down: the bed goes with the mix
        level = start = round(BED_LEVEL["outro"] * min(1.0, plan.energy / WIND_DOWN_ENERGY), 3)
    elif 0 < left <= BED_FADE_BARS:  # the set's last bars: the room empties with it
        start, level = round(level * left / BED_FADE_BARS, 4), round(level * (left - 1) / BED_FADE_BARS, 4)
    elif plan.bar == here.start and plan.bar > 0:
        start = BED_LEVEL.get(arc.section_at(plan.bar - 1, total, phrase_bars).name, level)
    return Layer(
        BED,
        sample,
        start,
        kind="loop",
        pattern="loop",
        width=BED_WIDTH,
        gain_end=None if start == level else level,
        filter=Filter("highpass", BED_HZ, BED_HZ, q=0.7),
    )


def bed_sample(menu: Mapping[str, Sequence[Any]]) -> str | None:
    """The loop the bed plays: the pack's atmosphere (another texture loop when none is named so), or None."""
    return find(menu, "texture", "atmos", loops=True)


def bed_of(plan: BarPlan) -> Layer | None:
    """The bed under ``plan``, steady at the level it ends the bar on: what a hold keeps playing."""
    layer = next((layer for layer in plan.layers if layer.role == BED), None)
    if layer is None or layer.gain_end is None:
        return layer
    return msgspec.structs.replace(layer, gain=layer.gain_end, gain_end=None)


def _thinned(layer: Layer, start: float, end: float) -> Layer:
    """A high-pass rising from 30 Hz toward 1.2 kHz through the build (for the roles that make room for the drop)."""
    if layer.role not in THINNED or layer.filter is not None:
        return layer
    return msgspec.structs.replace(layer, filter=Filter("highpass", 30.0 * 40.0**start, 30.0 * 40.0**end, q=1.3))
