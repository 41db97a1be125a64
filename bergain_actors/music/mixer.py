"""The mixer: the Conductor's state and the moves every brain makes on it.

The guardrails live here, not in prompts: gains are capped per role, a gain of zero or less is refused ("use
mute or remove"), adding past the phase's density cap is refused, unknown patterns are refused with the valid
names. Each move answers ``ok``, ``clamped: …`` or ``refused: …`` so a brain (and the log) knows what happened.
Pure: no I/O, no clock; randomness comes in as an argument.
"""

from __future__ import annotations

import random
from typing import Any, Literal

import msgspec

from bergain_actors.music import arc
from bergain_actors.music.patterns import PATTERNS, UnknownPattern, pattern_hits
from bergain_actors.music.plan import BarPlan, Layer


class Channel(msgspec.Struct, frozen=True):
    role: str
    sample: str
    gain: float
    kind: Literal["hit", "loop"] = "hit"
    pattern: str = ""
    hits: tuple[int, ...] = ()
    muted: bool = False
    loop_start_bar: int = 0

    def layer(self) -> Layer:
        return Layer(
            role=self.role,
            sample=self.sample,
            gain=self.gain,
            kind=self.kind,
            hits=self.hits if self.kind == "hit" else (),
            pattern=self.pattern,
            loop_start_bar=self.loop_start_bar,
        )


class SampleInfo(msgspec.Struct, frozen=True):
    """What the Conductor knows of a sample: enough to choose it, nothing to render it."""

    id: str
    role: str
    is_loop: bool
    bars: int = 1


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

    # --- reading --------------------------------------------------------------------------------------------------

    def audible(self) -> list[Channel]:
        return [c for c in self.channels.values() if not c.muted]

    def energy(self) -> float:
        return arc.energy(c.layer() for c in self.audible())

    def plan(self, bar: int, bpm: float, phase: str = "", energy: float | None = None) -> BarPlan:
        layers = tuple(c.layer() for c in sorted(self.audible(), key=lambda c: c.role))
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
        """Rebuild the audible mixer from a plan (how a restarted Conductor picks up the groove)."""
        mixer = cls(menu, plan.beats_per_bar)
        for layer in plan.layers:
            mixer.channels[layer.role] = Channel(
                role=layer.role,
                sample=layer.sample,
                gain=layer.gain,
                kind=layer.kind,
                pattern=layer.pattern,
                hits=layer.hits,
                loop_start_bar=layer.loop_start_bar,
            )
        return mixer

    # --- moves ----------------------------------------------------------------------------------------------------

    def add(
        self, role: str, bar: int, cap: int, gain: float, pattern: str = "", rand: random.Random | None = None
    ) -> str:
        if role in self.channels:
            return f"refused: {role} is already on the mixer (use fader, pattern or swap)"
        choices = self.menu.get(role)
        if not choices:
            return f"refused: no {role} samples in the pack (roles: {', '.join(sorted(self.menu))})"
        if len(self.audible()) >= cap:
            return f"refused: {cap} layers is the limit in this part of the set"
        info = (rand or random.Random(0)).choice(choices)
        gain, note = self._clamp(role, gain)
        if isinstance(gain, str):
            return gain
        channel = Channel(role=role, sample=info.id, gain=gain, loop_start_bar=bar)
        if info.is_loop:
            channel = msgspec.structs.replace(channel, kind="loop", pattern="loop")
        else:
            name = pattern or DEFAULT_PATTERN.get(role, "four_on_floor")
            try:
                channel = msgspec.structs.replace(channel, pattern=name, hits=pattern_hits(name, self.beats_per_bar))
            except UnknownPattern as exc:
                return f"refused: {exc}"
        self.channels[role] = channel
        return note or "ok"

    def remove(self, role: str) -> str:
        channel = self.channels.get(role)
        if channel is None:
            return f"refused: {role} is not on the mixer"
        if self._last_voice(channel):
            return SILENT
        del self.channels[role]
        return "ok"

    def fader(self, role: str, gain: float) -> str:
        channel = self.channels.get(role)
        if channel is None:
            return f"refused: {role} is not on the mixer"
        gain, note = self._clamp(role, gain)
        if isinstance(gain, str):
            return gain
        self.channels[role] = msgspec.structs.replace(channel, gain=gain)
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
        self.channels[role] = msgspec.structs.replace(channel, pattern=name, hits=hits)
        return "ok"

    def mute(self, role: str, muted: bool = True) -> str:
        channel = self.channels.get(role)
        if channel is None:
            return f"refused: {role} is not on the mixer"
        if muted and self._last_voice(channel):
            return SILENT
        self.channels[role] = msgspec.structs.replace(channel, muted=muted)
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
        self.channels[role] = msgspec.structs.replace(
            channel, sample=info.id, kind=kind, pattern=pattern, hits=hits, loop_start_bar=bar
        )
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


def menu_from_pack(pack: Any) -> dict[str, list[SampleInfo]]:
    """The choosable samples of a pack, by role, in a stable order."""
    menu: dict[str, list[SampleInfo]] = {}
    for role in sorted(pack.roles()):
        menu[role] = [
            SampleInfo(id=s.id, role=role, is_loop=bool(s.is_loop), bars=int(s.bars or 1)) for s in pack.by_role(role)
        ]
    return menu


def known_patterns() -> list[str]:
    return sorted(PATTERNS)
