"""``autopilot``: a brain that needs no LM. Seeded rules shape the whole set — intro, build, peak, breakdown,
second peak, outro — change something audible every phrase, and answer the Critic.

It is also the floor under every LM brain (it never declines a phrase), so it must never be silent and never
stall. ``hold`` is the last resort: it decides every phrase by changing nothing.
"""

from __future__ import annotations

import random

from bergain_actors.actors.conductor.base import BREAKDOWN_KEEP, Brain, Conductor
from bergain_actors.actors.conductor.menu import PREFERRED_GAIN, Option, attempt
from bergain_actors.core import events as ev
from bergain_actors.music.arc import phase_at
from bergain_actors.music.intents import lexical
from bergain_actors.music.steering import BRIGHT_ROLES

PHASE_ROLES = {
    "intro": ("kick", "hihat", "texture"),
    "build": ("kick", "hihat", "bassline", "perc", "texture"),
    "peak": ("kick", "bassline", "hihat", "clap", "perc", "texture", "synth", "ride"),
    "breakdown": ("texture", "synth", "hihat"),
    "peak2": ("kick", "bassline", "hihat", "clap", "texture", "perc", "synth", "ride", "drum_loop"),
    "outro": ("kick", "hihat", "texture"),
}
"""Which roles belong in each part of the set, most essential first."""

ESSENTIAL = {"intro": 1, "build": 3, "peak": 4, "breakdown": 0, "peak2": 4, "outro": 2}
"""How many of a phase's roles always come first; the seeded dice order the rest, so one set fills a phase
differently from another."""

VARY_PATTERNS = {
    "hihat": ("offbeat_8ths", "rolling", "sixteenths", "straight_8ths"),
    "perc": ("syncopated_a", "syncopated_b", "gallop", "sparse_accent", "tresillo", "rolling"),
    "clap": ("backbeat", "sparse_accent", "push"),
    "ride": ("straight_8ths", "offbeat_8ths"),
    "synth": ("sparse_accent", "tresillo", "dotted_8ths", "push", "offbeat_8ths"),
}
"""Patterns the autopilot varies a role through (the hats' all keep the off-beat eighth: the groove)."""

TURN_PHASES = frozenset({"intro", "build", "peak", "peak2", "outro"})
"""Where the middle of a phrase turns a pattern (not in the breakdown: it breathes)."""

TOLERANCE = 0.07

BREAKDOWN_PAD_GAIN = 0.55
"""The pad carries the breakdown alone: up to its cap."""

STEER_STEP = 0.1
"""How far words like "more tension" or "calm down" move the energy target."""

TONE_STEP = 0.5
"""How far "darker" or "brighter" leans the set's tone (the brief's, -1..1) for the rest of the set."""

VARIATION_STEP = 1.0
"""How far "more hypnotic" or "more variation" moves the set's variation (-1..1) for the rest of the set."""

TEMPO_NUDGE = 4.0
"""BPM that "faster" or "slower" glides the tempo by."""

TENSION_PATTERNS = {"hihat": "sixteenths", "perc": "rolling", "synth": "offbeat_8ths"}
"""Busier patterns that wind a groove up before a drop, tried in this order."""


class AutopilotBrain(Brain):
    name = "autopilot"

    def decide(self, bar: int, new_phase: bool) -> bool:
        self.on_phrase(bar, new_phase)
        return True

    def on_phrase(self, bar: int, new_phase: bool) -> None:
        if new_phase:
            self.enter_phase(bar)
        directive = self.directives.pop() if self.directives else None
        self.directives.clear()
        if directive is not None:
            action = self.answer(directive, bar)
            self.acted(directive, action, bar)
        elif not new_phase:
            if self.phase == "breakdown":
                self.rebuild(bar)
            else:
                self.steer(bar)

    # --- the arc --------------------------------------------------------------------------------------------------

    def enter_phase(self, bar: int) -> None:
        """Reshape the mixer for the new part of the set."""
        if self.phase == "breakdown":
            self.breathe(bar)
            return
        rand = self.ctx.rng(bar, "fill")
        wanted = self.fill_order(rand)
        for role in [r for r in self.mixer.channels if r not in wanted]:
            self.move("remove", role, bar)
        for role in wanted[: ESSENTIAL[self.phase]]:  # the hats muted for a breakdown are back for the drop
            channel = self.mixer.channels.get(role)
            if channel is not None and channel.muted:
                self.move("unmute", role, bar)
        for role in wanted:
            if self.mixer.energy() >= self.target or len(self.mixer.audible()) >= self.cap:
                break
            channel = self.mixer.channels.get(role)
            if channel is None:
                patterns = VARY_PATTERNS.get(role)
                pattern = {"pattern": rand.choice(patterns)} if patterns and role != "hihat" else {}
                self.move("add", role, bar, gain=PREFERRED_GAIN.get(role, 0.5), **pattern)
            elif channel.muted:
                self.move("unmute", role, bar)
        if self.phase == "peak2":
            self.vary(bar, swap=True)

    def fill_order(self, rand: random.Random) -> list[str]:
        """The phase's roles in the order they come in: the essential ones first, the rest as the dice say."""
        roles = PHASE_ROLES[self.phase]
        keep, rest = list(roles[: ESSENTIAL[self.phase]]), list(roles[ESSENTIAL[self.phase] :])
        rand.shuffle(rest)
        return keep + rest

    def breathe(self, bar: int) -> None:
        """The breakdown: kick, low end and drums drop out, a pad and a dub chord stab carry it; the hats wait for
        the build (``rebuild``), and the drop brings the rest back on the one."""
        if not any(c.role in BREAKDOWN_KEEP for c in self.mixer.audible()):
            self.bring("texture", bar, "pad")
        self.move("breakdown", "", bar, bars=self.bars_left_in_phase(bar))
        for role in ("hihat", "ride", "fx"):
            channel = self.mixer.channels.get(role)
            if channel is not None and not channel.muted and len(self.mixer.audible()) > 1:
                self.move("mute", role, bar)
        self.bring("texture", bar, "pad")
        self.bring("synth", bar, "dub")
        pad = self.mixer.channels.get("texture")
        if pad is not None and pad.gain < BREAKDOWN_PAD_GAIN:
            self.move("fader", "texture", bar, gain=BREAKDOWN_PAD_GAIN)

    def bring(self, role: str, bar: int, word: str) -> None:
        """``role`` playing, preferably the sample whose name has ``word`` (a pad, a dub stab)."""
        channel = self.mixer.channels.get(role)
        if channel is None and len(self.mixer.audible()) < self.cap and role in self.mixer.menu:
            self.move("add", role, bar, gain=PREFERRED_GAIN.get(role, 0.5))
        elif channel is not None and channel.muted:
            self.move("unmute", role, bar)
        channel = self.mixer.channels.get(role)
        ids = [info.id for info in self.mixer.menu.get(role, [])]
        wanted = next((i for i, sid in enumerate(ids) if word in sid.rsplit("/", 1)[-1]), None)
        if channel is not None and wanted is not None and channel.sample != ids[wanted]:
            self.move("swap", role, bar, choice=wanted)

    def rebuild(self, bar: int) -> str:
        """The breakdown's second phrase builds toward the drop: the hats come back, the stab goes busier."""
        hats = self.mixer.channels.get("hihat")
        if hats is not None and hats.muted and self.move("unmute", "hihat", bar) == "ok":
            return "unmute hihat"
        synth = self.mixer.channels.get("synth")
        if (
            synth is not None
            and synth.kind == "hit"
            and self.move("pattern", "synth", bar, name="offbeat_8ths") == "ok"
        ):
            return "pattern synth offbeat_8ths"
        return self.vary(bar)

    def bars_left_in_phase(self, bar: int) -> int:
        end = bar
        while end < self.total and self._phase_of(end) == self.phase:
            end += 1
        return end - bar

    def _phase_of(self, bar: int) -> str:
        return phase_at(bar, self.total, self.conductor.phrase_bars)[0]

    # --- one change per phrase ------------------------------------------------------------------------------------

    def steer(self, bar: int) -> str:
        """Toward the target energy if off it, otherwise vary: something audible changes every phrase."""
        energy = self.mixer.energy()
        if energy < self.target - TOLERANCE:
            return self.build_up(bar) or self.vary(bar)
        if energy > self.target + TOLERANCE:
            return self.strip_back(bar) or self.vary(bar)
        return self.vary(bar)

    def build_up(self, bar: int) -> str:
        for role in PHASE_ROLES[self.phase]:
            channel = self.mixer.channels.get(role)
            if channel is not None and channel.muted and self.move("unmute", role, bar) == "ok":
                return f"unmute {role}"
            room = channel is None and len(self.mixer.audible()) < self.cap
            if room and self.move("add", role, bar, gain=PREFERRED_GAIN.get(role, 0.5)).startswith(("ok", "clamped")):
                return f"add {role}"
        for channel in sorted(self.mixer.audible(), key=lambda c: c.gain):
            raised = round(min(1.0, channel.gain + 0.1), 3)
            if raised > channel.gain and self.move("fader", channel.role, bar, gain=raised) == "ok":
                return f"fader {channel.role} {raised}"
        return ""

    def strip_back(self, bar: int) -> str:
        essential = PHASE_ROLES[self.phase]
        removable = [c.role for c in self.mixer.audible() if c.role not in essential[:2]]
        if removable:
            role = sorted(removable, key=lambda r: (r in essential, essential.index(r) if r in essential else 0))[-1]
            if self.move("remove", role, bar) == "ok":
                return f"remove {role}"
        loudest = max(self.mixer.audible(), key=lambda c: c.gain, default=None)
        if loudest is not None and loudest.gain > 0.2:
            lowered = round(loudest.gain - 0.1, 3)
            if self.move("fader", loudest.role, bar, gain=lowered) == "ok":
                return f"fader {loudest.role} {lowered}"
        return ""

    def vary(self, bar: int, swap: bool = False) -> str:
        """Swap a sample or change a pattern, chosen by the seeded dice, a texture not heard yet first."""
        return self.change(self.variations(self.ctx.rng(bar, "vary"), patterns=not swap, swaps=True), bar)

    def turn(self, bar: int) -> bool:
        """The middle of a phrase in a groove: one role turns to another pattern (never the kick); a hypnotic
        brief or steer turns it only every other phrase."""
        if self.phase not in TURN_PHASES:
            return False
        if self.conductor.profile.variation <= -0.3 and (bar // self.conductor.phrase_bars) % 2:
            return True
        self.change(self.variations(self.ctx.rng(bar, "turn"), patterns=True, swaps=False), bar)
        return True

    def variations(self, rand: random.Random, patterns: bool, swaps: bool) -> list[Option]:
        """Pattern changes and sample swaps for the roles playing (not the kick), in the dice's order, role by
        role: with ``patterns``, a role that has patterns to vary through changes pattern, and swaps sample only
        when it has none (or ``patterns`` is off) and ``swaps`` allows."""
        roles = sorted(r for r, c in self.mixer.channels.items() if not c.muted and r != "kick")
        if not roles:
            roles = sorted(self.mixer.channels)
        rand.shuffle(roles)
        out: list[Option] = []
        for role in roles:
            channel = self.mixer.channels[role]
            if patterns and channel.kind == "hit":
                names = [p for p in VARY_PATTERNS.get(role, ()) if p != channel.pattern]
                rand.shuffle(names)
                out += [Option("pattern", role, {"name": name}, f"pattern {role} {name}", 0.0) for name in names]
            varies = patterns and channel.kind == "hit" and role in VARY_PATTERNS
            if swaps and not varies:
                choices = [i for i, info in enumerate(self.mixer.menu.get(role, [])) if info.id != channel.sample]
                rand.shuffle(choices)
                out += [Option("swap", role, {"choice": i}, f"swap {role}", 0.0) for i in choices]
        return out

    def change(self, options: list[Option], bar: int) -> str:
        """Make the first of ``options`` that gives a texture not heard yet in the set (else the first that
        changes anything)."""
        heard = self.conductor.textures
        tried = [(option, attempt(self.mixer, option, self.cap, self.conductor.tone)) for option in options]
        usable = [(option, after) for option, after in tried if after is not None]
        usable.sort(key=lambda pair: pair[1].texture() in heard)  # stable: the dice's order within each group
        if not usable:
            return ""
        option = usable[0][0]
        return option.label if self.move(option.move, option.role, bar, **option.args) == "ok" else ""

    # --- a person's steer -----------------------------------------------------------------------------------------

    def on_steer(self, steer: ev.Steer, bar: int) -> tuple[str, str] | None:
        """The steer's intents (as the Conductor read them) mapped to moves in code; words the vocabulary does not
        know still change something audible."""
        if steer.intent == "energy":
            return ("energy_up" if steer.value > 0 else "energy_down"), self.toward_target(bar)
        reading = self.conductor.reading or lexical(steer.text)
        top = reading.top
        if top is None:
            return "unknown", self.vary(bar, swap=True) or "nothing possible"
        return top.kind, self.act(top.kind, top.role, bar) or "nothing possible"

    def act(self, kind: str, role: str, bar: int) -> str:
        conductor = self.conductor
        if kind in ("darker", "brighter"):
            moved = self.darker(bar) if kind == "darker" else self.brighter(bar)
            leaned = conductor.shift_tone(-TONE_STEP if kind == "darker" else TONE_STEP, kind)
            return f"{moved}; {leaned}" if moved else leaned
        if kind in ("energy_up", "energy_down", "tension"):
            conductor.move_target(conductor.bias + (-STEER_STEP if kind == "energy_down" else STEER_STEP))
            wound = self.wind_up(bar) if kind == "tension" else ""
            return f"{wound}; {self.toward_target(bar)}" if wound else self.toward_target(bar)
        if kind in ("denser", "sparser"):
            leaned = conductor.shift_profile(cap_shift=1 if kind == "denser" else -1)
            moved = self.build_up(bar) if kind == "denser" else self.strip_back(bar)
            return f"{moved}; {leaned}" if moved else leaned
        if kind in ("hypnotic", "vary"):
            leaned = conductor.shift_profile(variation=-VARIATION_STEP if kind == "hypnotic" else VARIATION_STEP)
            return leaned if kind == "hypnotic" else f"{self.vary(bar, swap=True) or 'nothing to vary'}; {leaned}"
        if kind in ("faster", "slower"):
            now = conductor.bpm if conductor.tempo_goal is None else conductor.tempo_goal
            return conductor.glide_tempo(now + (TEMPO_NUDGE if kind == "faster" else -TEMPO_NUDGE))
        if kind == "breakdown":
            verdict = self.move("breakdown", "", bar, bars=conductor.phrase_bars)
            return verdict if verdict.startswith("ok") else ""
        if kind == "drop":
            return self.drop(bar)
        if kind == "mute":
            channel = self.mixer.channels.get(role)
            verdict = self.move("mute", role, bar) if channel and not channel.muted else "no such layer playing"
            return f"mute {role}" if verdict == "ok" else f"{role}: {verdict}"
        return self.bring_in(role, bar)

    def wind_up(self, bar: int) -> str:
        """Tension: one playing role turns to a busier pattern."""
        for role, pattern in TENSION_PATTERNS.items():
            channel = self.mixer.channels.get(role)
            playing = channel is not None and not channel.muted and channel.kind == "hit"
            if playing and channel.pattern != pattern and self.move("pattern", role, bar, name=pattern) == "ok":
                return f"pattern {role} {pattern}"
        return ""

    def toward_target(self, bar: int) -> str:
        target = f"target {self.target:.2f}"
        energy = self.mixer.energy()
        if energy < self.target - TOLERANCE / 2:
            return f"{target}: {self.build_up(bar) or 'nothing left to add'}"
        if energy > self.target + TOLERANCE / 2:
            return f"{target}: {self.strip_back(bar) or 'nothing left to take away'}"
        return f"{target}: already there"

    def darker(self, bar: int) -> str:
        """Take the brightest layer away and pull the other bright ones down: the spectrum's centroid falls."""
        done = []
        bright = [c for c in self.mixer.audible() if c.role in BRIGHT_ROLES]
        bright.sort(key=lambda c: BRIGHT_ROLES.index(c.role))
        for index, channel in enumerate(bright):
            if index == 0 and self.move("remove", channel.role, bar) == "ok":
                done.append(f"remove {channel.role}")
                continue
            lowered = round(max(0.1, channel.gain * 0.6), 3)
            if lowered < channel.gain and self.move("fader", channel.role, bar, gain=lowered) == "ok":
                done.append(f"fader {channel.role} {lowered}")
        return ", ".join(done)

    def brighter(self, bar: int) -> str:
        for role in BRIGHT_ROLES[:3]:
            room = role not in self.mixer.channels and len(self.mixer.audible()) < self.cap
            if room and self.move("add", role, bar, gain=PREFERRED_GAIN[role]).startswith(("ok", "clamped")):
                return f"add {role}"
        done = []
        for channel in [c for c in self.mixer.audible() if c.role in BRIGHT_ROLES]:
            raised = round(min(1.0, channel.gain * 1.3), 3)
            if raised > channel.gain and not self.move("fader", channel.role, bar, gain=raised).startswith("ref"):
                done.append(f"fader {channel.role} {raised}")
        return ", ".join(done)

    def drop(self, bar: int) -> str:
        """Everything back in: the muted layers (a breakdown's too) and the kick."""
        done = [f"unmute {c.role}" for c in list(self.mixer.channels.values()) if c.muted]
        for channel in [c for c in self.mixer.channels.values() if c.muted]:
            self.move("unmute", channel.role, bar)
        self.conductor.restore_at, self.conductor.restore = -1, []
        kick_back = "kick" not in self.mixer.channels
        if kick_back and self.move("add", "kick", bar, gain=PREFERRED_GAIN["kick"]).startswith(("ok", "clamped")):
            done.append("add kick")
        return ", ".join(done)

    def bring_in(self, role: str, bar: int) -> str:
        channel = self.mixer.channels.get(role)
        if channel is not None and channel.muted:
            verdict = self.move("unmute", role, bar)
        elif channel is not None:
            raised = round(min(1.0, channel.gain + 0.15), 3)
            verdict = self.move("fader", role, bar, gain=raised)
        else:
            verdict = self.move("add", role, bar, gain=PREFERRED_GAIN.get(role, 0.5))
        return f"{role}: {verdict}"

    # --- the Critic -----------------------------------------------------------------------------------------------

    def answer(self, directive: ev.Directive, bar: int) -> str:
        kind = directive.kind
        if kind == "energy_up":
            action = self.build_up(bar)
        elif kind in ("energy_down", "less_dense"):
            action = self.strip_back(bar)
        elif kind == "quieter":
            loudest = max((c for c in self.mixer.audible() if c.role != "kick"), key=lambda c: c.gain, default=None)
            action = ""
            if loudest is not None:
                lowered = round(max(0.1, loudest.gain * 0.8), 3)
                if self.move("fader", loudest.role, bar, gain=lowered) == "ok":
                    action = f"fader {loudest.role} {lowered}"
        elif kind == "add_kick":
            kick = self.mixer.channels.get("kick")
            verdict = self.move("unmute" if kick else "add", "kick", bar, gain=PREFERRED_GAIN["kick"])
            action = "kick back in" if verdict.startswith(("ok", "clamped")) else ""
        elif kind == "darker":  # the audio critic heard a hiss bath
            action = self.darker(bar)
        elif kind == "brighter":
            action = self.brighter(bar)
        else:  # vary, stabilize, anything new: change something audible
            action = self.vary(bar, swap=directive.severity > 1) or self.vary(bar, swap=True)
        return action or self.steer(bar) or "nothing possible"


class HoldBrain(Brain):
    """Keeps playing the last groove unchanged: it decides every phrase by leaving it as it is."""

    name = "hold"

    def decide(self, bar: int, new_phase: bool) -> bool:
        return True

    def on_steer(self, steer: ev.Steer, bar: int) -> tuple[str, str] | None:
        return steer.intent, "the hold brain makes no changes"


class Autopilot(Conductor):
    """The conductor with no LM: the autopilot alone."""

    kind = "autopilot"
    brain_kind = "autopilot"


class HoldGroove(Conductor):
    """Safe mode: holds the groove. The last resort when other conductors keep crashing."""

    kind = "hold"
    brain_kind = "hold"
