"""The mixer: the Conductor's state and the moves every brain makes on it.

The guardrails live here, not in prompts: gains are capped per role, a gain of zero or less is refused ("use
mute or remove"), adding past the phase's density cap is refused, unknown patterns are refused with the valid
names. Each move answers ``ok``, ``clamped: …`` or ``refused: …`` so a brain (and the log) knows what happened.
Pure: no I/O, no clock; randomness comes in as an argument.
"""

from __future__ import annotations

import random
import zlib
from typing import Any, Literal

import msgspec

from bergain_actors.music import arc, keys, texture
from bergain_actors.music.patterns import PATTERNS, UnknownPattern, pattern_hits
from bergain_actors.music.plan import BarPlan, Filter, Layer
from bergain_actors.music.texture import Texture


class Channel(msgspec.Struct, frozen=True):
    """One fader of the mixer: the layer it plays (its target level) and how it gets there.

    A move never jumps: an added layer fades in, a fader glides, a removed layer fades out (``Mixer.leaving``)
    over ``FADE_BARS`` of its role, bar by bar as gain ramps in the plans. A fade's first bar is the next bar
    planned after the move (``fade_start`` -1 until then)."""

    layer: Layer
    muted: bool = False
    fade_from: float = -1.0
    """The level the fade starts at; below 0 when the channel is steady."""
    fade_start: int = -1
    fade_bars: int = 0
    sweep: Literal["", "open", "close"] = ""
    """A filter riding the fade: a low-pass opening as it comes in, a high-pass rising as it goes."""

    @property
    def role(self) -> str:
        return self.layer.role

    @property
    def sample(self) -> str:
        return self.layer.sample

    @property
    def gain(self) -> float:
        return self.layer.gain

    @property
    def kind(self) -> str:
        return self.layer.kind

    @property
    def pattern(self) -> str:
        return self.layer.pattern

    @property
    def hits(self) -> tuple[int, ...]:
        return self.layer.hits

    @property
    def loop_start_bar(self) -> int:
        return self.layer.loop_start_bar

    def level_after(self, bar: int) -> float:
        """The level at the end of ``bar`` (where a new fade starting after it begins)."""
        if self.fade_from < 0 or self.fade_start < 0:
            return self.layer.gain if self.fade_from < 0 else self.fade_from
        done = min(1.0, max(0.0, (bar + 1 - self.fade_start) / self.fade_bars))
        return round(self.fade_from + (self.layer.gain - self.fade_from) * done, 4)

    def at(self, bar: int) -> Layer | None:
        """What this channel plays in ``bar`` (None once a fade to silence is over)."""
        if self.fade_from < 0 or self.fade_bars <= 0:
            return self.layer if self.layer.gain > 0 else None
        k = bar - self.fade_start
        if k >= self.fade_bars:
            return self.layer if self.layer.gain > 0 else None
        start, end = k / self.fade_bars, (k + 1) / self.fade_bars
        span = self.layer.gain - self.fade_from
        sweep = None
        if self.sweep == "open":
            sweep = Filter("lowpass", SWEEP_LOW_HZ * SWEEP_RANGE**start, SWEEP_LOW_HZ * SWEEP_RANGE**end, q=1.1)
        elif self.sweep == "close":
            sweep = Filter("highpass", 30.0 * SWEEP_HIGH**start, 30.0 * SWEEP_HIGH**end, q=1.1)
        return msgspec.structs.replace(
            self.layer,
            gain=round(self.fade_from + span * start, 4),
            gain_end=round(self.fade_from + span * end, 4),
            filter=sweep or self.layer.filter,
        )


SWEEP_LOW_HZ = 250.0
SWEEP_RANGE = 18_000.0 / SWEEP_LOW_HZ
"""A low-pass opening from 250 Hz to fully open over the fade."""
SWEEP_HIGH = 2_000.0 / 30.0
"""A high-pass rising from 30 Hz to 2 kHz over a fade-out."""

FADE_BARS = {"kick": 0, "clap": 0, "snare": 0, "fx": 0, "texture": 4, "bassline": 2, "synth": 2}
"""Bars a layer takes to come in or go; drums that mark the one cut in on it, pads and bass ride a filter."""
DEFAULT_FADE_BARS = 2
FADE_OUT_BARS = {"kick": 0, "clap": 0, "snare": 0, "fx": 0, "texture": 2, "bassline": 2, "synth": 2, "bass": 2}
"""Bars a layer takes to leave: the bright drums within the bar (a DJ pulls a hat fader quickly)."""
DEFAULT_FADE_OUT_BARS = 1
SWEPT = frozenset({"texture", "bassline", "synth", "bass", "drum_loop"})
"""Roles whose fades ride a filter sweep."""
GLIDE_BARS = 2
"""A fader move glides over this many bars."""

STEREO: dict[str, tuple[float, float, float, float]] = {
    # role: (pan, width, send to the delay, reverb); the pan's side alternates with the sample
    "hihat": (0.35, 0.8, 0.0, 0.0),
    "ride": (0.45, 0.9, 0.1, 0.0),
    "perc": (0.5, 1.0, 0.25, 0.45),
    "clap": (0.0, 0.7, 0.15, 0.5),
    "snare": (0.0, 0.6, 0.2, 0.4),
    "synth": (0.2, 1.0, 0.3, 0.4),
    "texture": (0.0, 1.0, 0.12, 0.2),
    "drum_loop": (0.0, 0.6, 0.0, 0.2),
    "fx": (0.0, 0.8, 0.25, 0.4),
}
"""Where each role sits: kick and bass stay mono in the middle, dry; hats, percs, stabs and pads spread, and the
sparser hits and the pads get a stereo reverb (not the hats and the ride: their many hits would each add a tail)."""


def placed(layer: Layer) -> Layer:
    """``layer`` with its role's place in the stereo field (the side of the pan alternates by sample)."""
    pan, width, send, reverb = STEREO.get(layer.role, (0.0, 0.0, 0.0, 0.0))
    if zlib.crc32(layer.sample.encode()) % 2:
        pan = -pan
    return msgspec.structs.replace(layer, pan=pan, width=width, send=send, reverb=reverb)


class SampleInfo(msgspec.Struct, frozen=True):
    """What the Conductor knows of a sample: enough to choose it, nothing to render it."""

    id: str
    role: str
    is_loop: bool
    bars: int = 1
    pitches: tuple[int, ...] = ()
    """Pitch classes it sounds (() for none): what the key rule judges."""


SILENT = "refused: that would leave the mix silent"

DEFAULT_PATTERN = {
    "kick": "four_on_floor",
    "hihat": "offbeat_8ths",
    "clap": "backbeat",
    "snare": "backbeat",
    "perc": "syncopated_a",
    "ride": "straight_8ths",
    "bass": "offbeat_8ths",
    "synth": "sparse_accent",
    "fx": "downbeat",
}


class Mixer:
    """Channels keyed by role (one per role, as a DJ's mixer has one fader per deck/instrument)."""

    def __init__(self, menu: dict[str, list[SampleInfo]], beats_per_bar: int = 4) -> None:
        self.menu = menu
        self.beats_per_bar = beats_per_bar
        self.channels: dict[str, Channel] = {}
        self.leaving: dict[str, Channel] = {}
        """Removed channels still fading out: they sound in the plans but are no longer on the mixer."""
        self.planned = -1
        """The last bar planned: a move made now takes effect from the next."""
        self.taken_out: dict[str, int] = {}
        """Role → the last bar planned when it was removed: a layer taken out for a bar does not come straight
        back in that bar (two steers answered together, "darker" then "energy 0.9", compose instead)."""

    # --- reading --------------------------------------------------------------------------------------------------

    def audible(self) -> list[Channel]:
        return [c for c in self.channels.values() if not c.muted]

    def energy(self) -> float:
        return arc.energy(c.layer for c in self.audible())

    def texture(self) -> Texture:
        """The texture the mix plays, each channel at the level it is heading for (``texture.of_layers``)."""
        return texture.of_layers(c.layer for c in self.audible())

    def plan(self, bar: int, bpm: float, phase: str = "", energy: float | None = None) -> BarPlan:
        """The bar as it sounds: every audible channel (fades as gain ramps) and whatever is still leaving."""
        self.planned = bar
        for table in (self.channels, self.leaving):
            for role, channel in table.items():
                if channel.fade_from >= 0 and channel.fade_start < 0:
                    table[role] = channel = msgspec.structs.replace(channel, fade_start=bar)
                if channel.fade_from >= 0 and bar >= channel.fade_start + channel.fade_bars:
                    table[role] = msgspec.structs.replace(channel, fade_from=-1.0, fade_bars=0, sweep="")
        for role in [r for r, c in self.leaving.items() if c.at(bar) is None or r in self.channels]:
            del self.leaving[role]
        sounding = [*self.audible(), *self.leaving.values()]
        layers = tuple(layer for c in sorted(sounding, key=lambda c: c.role) if (layer := c.at(bar)) is not None)
        return BarPlan(
            bar=bar,
            bpm=bpm,
            beats_per_bar=self.beats_per_bar,
            layers=layers,
            phase=phase,
            energy=self.energy() if energy is None else energy,
        )

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """The mixer as plain data: what brains see and what ``history`` returns."""
        return {
            c.role: {"sample": c.sample, "gain": c.gain, "pattern": c.pattern, "muted": c.muted, "kind": c.kind}
            for c in sorted(self.channels.values(), key=lambda c: c.role)
        }

    @classmethod
    def from_plan(cls, plan: BarPlan, menu: dict[str, list[SampleInfo]]) -> Mixer:
        """Rebuild the audible mixer from a plan (how a restarted Conductor picks up the groove): each layer at
        the level its ramp was heading for, without the ornaments an arrangement adds to single bars."""
        mixer = cls(menu, plan.beats_per_bar)
        for layer in plan.layers:
            if layer.role in menu and layer.role not in mixer.channels:
                level = layer.gain if layer.gain_end is None else layer.gain_end
                if level > 0:
                    steady = msgspec.structs.replace(layer, gain=level, gain_end=None, filter=None)
                    mixer.channels[layer.role] = Channel(steady)
        return mixer

    # --- moves ----------------------------------------------------------------------------------------------------

    def add(
        self, role: str, bar: int, cap: int, gain: float, pattern: str = "", rand: random.Random | None = None
    ) -> str:
        if role in self.channels:
            return f"refused: {role} is already on the mixer (use fader, pattern or swap)"
        if self.taken_out.get(role) == self.planned:
            return f"refused: {role} was just taken out for the next bar; it may come back from the bar after"
        choices = self.menu.get(role)
        if not choices:
            return f"refused: no {role} samples in the pack (roles: {', '.join(sorted(self.menu))})"
        if len(self.audible()) >= cap:
            return f"refused: {cap} layers is the limit in this part of the set"
        info = (rand or random.Random(0)).choice(choices)
        gain, note = self._clamp(role, gain)
        if isinstance(gain, str):
            return gain
        layer = Layer(role=role, sample=info.id, gain=gain, loop_start_bar=bar)
        if info.is_loop:
            layer = msgspec.structs.replace(layer, kind="loop", pattern="loop")
        else:
            name = pattern or DEFAULT_PATTERN.get(role, "four_on_floor")
            try:
                layer = msgspec.structs.replace(layer, pattern=name, hits=pattern_hits(name, self.beats_per_bar))
            except UnknownPattern as exc:
                return f"refused: {exc}"
        bars = FADE_BARS.get(role, DEFAULT_FADE_BARS) if self.planned >= 0 and self.audible() else 0
        self.channels[role] = _fading(Channel(placed(layer)), 0.0, bars, "open")  # the set's first groove: at once
        return note or "ok"

    def remove(self, role: str) -> str:
        channel = self.channels.get(role)
        if channel is None:
            return f"refused: {role} is not on the mixer"
        if self._last_voice(channel):
            return SILENT
        del self.channels[role]
        self.taken_out[role] = self.planned
        if not channel.muted:
            current = channel.level_after(self.planned)
            going = msgspec.structs.replace(channel, layer=msgspec.structs.replace(channel.layer, gain=0.0))
            self.leaving[role] = _fading(going, current, FADE_OUT_BARS.get(role, DEFAULT_FADE_OUT_BARS), "close")
        return "ok"

    def fader(self, role: str, gain: float) -> str:
        channel = self.channels.get(role)
        if channel is None:
            return f"refused: {role} is not on the mixer"
        gain, note = self._clamp(role, gain)
        if isinstance(gain, str):
            return gain
        if gain != channel.gain:
            moved = msgspec.structs.replace(channel, layer=msgspec.structs.replace(channel.layer, gain=gain))
            self.channels[role] = _fading(moved, channel.level_after(self.planned), GLIDE_BARS, "")
        return note or "ok"

    def pattern(self, role: str, name: str) -> str:
        channel = self.channels.get(role)
        if channel is None:
            return f"refused: {role} is not on the mixer"
        if channel.kind == "loop":
            return f"refused: {role} plays a loop; swap it for a one-shot to give it a pattern"
        try:
            hits = pattern_hits(name, self.beats_per_bar)
        except UnknownPattern as exc:
            return f"refused: {exc}"
        layer = msgspec.structs.replace(channel.layer, pattern=name, hits=hits)
        self.channels[role] = msgspec.structs.replace(channel, layer=layer)
        return "ok"

    def mute(self, role: str, muted: bool = True) -> str:
        """Mute or unmute at once: a cut on the one (a breakdown, a drop) is the one move that should not fade."""
        channel = self.channels.get(role)
        if channel is None:
            return f"refused: {role} is not on the mixer"
        if muted and self._last_voice(channel):
            return SILENT
        self.channels[role] = msgspec.structs.replace(channel, muted=muted, fade_from=-1.0, fade_bars=0)
        return "ok"

    def _last_voice(self, channel: Channel) -> bool:
        """Whether ``channel`` is all that is still sounding: the music never stops, whoever asks."""
        return not channel.muted and len(self.audible()) == 1

    def swap(self, role: str, bar: int, choice: int | None = None, rand: random.Random | None = None) -> str:
        """Another sample for ``role``: by index into the menu, or seeded-random among the others."""
        channel = self.channels.get(role)
        if channel is None:
            return f"refused: {role} is not on the mixer"
        choices = self.menu.get(role, [])
        others = [s for s in choices if s.id != channel.sample]
        if choice is not None:
            if not 0 <= choice < len(choices):
                return f"refused: {role} has samples 0..{len(choices) - 1}"
            info = choices[choice]
        elif others:
            info = (rand or random.Random(0)).choice(others)
        else:
            return f"refused: {role} has no other sample"
        kind: Literal["hit", "loop"] = "loop" if info.is_loop else "hit"
        pattern = "loop" if info.is_loop else (channel.pattern if channel.kind == "hit" else DEFAULT_PATTERN[role])
        hits = () if info.is_loop else pattern_hits(pattern, self.beats_per_bar)
        layer = placed(
            msgspec.structs.replace(
                channel.layer, sample=info.id, kind=kind, pattern=pattern, hits=hits, loop_start_bar=bar
            )
        )
        self.channels[role] = msgspec.structs.replace(channel, layer=layer)
        return "ok"

    def _clamp(self, role: str, gain: float) -> tuple[float | str, str]:
        if not isinstance(gain, int | float) or gain != gain:
            return f"refused: gain must be a number, got {gain!r}", ""
        if gain <= 0:
            return "refused: gain must be above 0 (use mute or remove)", ""
        cap = arc.gain_cap(role)
        if gain > cap:
            return cap, f"clamped: {role} gain {gain:g} → {cap:g}"
        return round(float(gain), 4), ""


def menu_from_pack(pack: Any, key: str | None = None) -> dict[str, list[SampleInfo]]:
    """The choosable samples of a pack, by role, in a stable order. With the set's ``key``, only the samples that
    fit it (``keys``): every add and every swap then keeps the key. A role none of whose samples fits keeps the
    nearest ones (fewest pitch classes off the key; ``off_key`` names such roles, to be said)."""
    scale = keys.scale_of(key) if key else None
    menu: dict[str, list[SampleInfo]] = {}
    for role in sorted(pack.roles()):
        samples = pack.by_role(role)
        if scale is not None:
            fewest = min(keys.clashes(role, s.pitches, scale) for s in samples)
            samples = [s for s in samples if keys.clashes(role, s.pitches, scale) == fewest]
        menu[role] = [
            SampleInfo(id=s.id, role=role, is_loop=bool(s.is_loop), bars=int(s.bars or 1), pitches=s.pitches)
            for s in samples
        ]
    return menu


def off_key(pack: Any, key: str) -> list[str]:
    """The roles of ``pack`` with no sample that fits ``key``."""
    scale = keys.scale_of(key)
    return [
        role for role in sorted(pack.roles()) if all(keys.clashes(role, s.pitches, scale) for s in pack.by_role(role))
    ]


def known_patterns() -> list[str]:
    return sorted(PATTERNS)


def _fading(channel: Channel, start: float, bars: int, sweep: Literal["", "open", "close"]) -> Channel:
    """``channel`` gliding from ``start`` to its layer's gain over ``bars`` bars from the next bar planned."""
    if bars <= 0:
        return msgspec.structs.replace(channel, fade_from=-1.0, fade_bars=0, sweep="")
    return msgspec.structs.replace(
        channel,
        fade_from=start,
        fade_start=-1,
        fade_bars=bars,
        sweep=sweep if channel.role in SWEPT else "",
    )
