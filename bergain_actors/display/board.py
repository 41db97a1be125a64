"""What the live display shows, kept up to date from the set's events. Pure: a bus tap feeds ``add``; the
renderer reads the fields. Nothing here decides anything, so it may look at anything."""

from __future__ import annotations

from collections import deque

from bergain_actors.core import events as ev
from bergain_actors.display.narrate import Narrator
from bergain_actors.music import arc
from bergain_actors.music.plan import BarPlan
from bergain_actors.report.series import db

STEER_GRID = 4


class Board:
    def __init__(self, verbose: bool = False) -> None:
        self.narrator = Narrator(verbose)
        self.name = ""
        self.bpm = 0.0
        self.beats_per_bar = 4
        self.total = 0
        self.phrase_bars = 16
        self.bar = -1
        """The last bar played."""
        self.playing: BarPlan | None = None
        self.plans: dict[int, BarPlan] = {}
        self.phase = ""
        self.rms_db = -90.0
        self.peak_db = -90.0
        self.brain = ""
        self.thinking: deque[str] = deque(maxlen=6)
        self.critic: deque[str] = deque(maxlen=3)
        self.answers: deque[str] = deque(maxlen=4)
        self.providers: dict[str, str] = {}
        self.latency: dict[str, float] = {}
        self.holds = 0
        """Engine stalls: bars played again for lack of a plan."""
        self.held_bars = 0
        """Bars played while the performer held the groove."""
        self.underflows = 0
        self.device = ""
        """Where the audio goes now: the device, or that it was lost and since which bar."""
        self.device_ok = True
        self.ableton = ""
        """Live's state as last heard (empty: no Ableton in this set)."""
        self.live_bars_off: set[int] = set()
        """Bars Live did not play as planned (``LiveBarOff``)."""
        self.end = -1
        self.pending: dict[int, str] = {}
        """Steers waiting for the Conductor: seq → words."""
        self.ended = ""
        self.holding = False
        """The conductor holds the groove (``hold``) until ``resume``."""

    def add(self, event: ev.Event) -> None:
        for line in self.narrator.lines(event):
            self.thinking.append(line)
        match event:
            case ev.SetStarted():
                self.name, self.bpm, self.total = event.name, event.bpm, event.total_bars
                self.beats_per_bar, self.end = event.beats_per_bar, event.total_bars
            case ev.ActorStarted(slot="conductor"):
                self.brain = event.kind
            case ev.ActorSwapped(slot="conductor") | ev.ActorFellBack(slot="conductor"):
                self.brain = event.new
            case ev.BrainChanged():
                self.brain = event.new
            case ev.BarPlanned():
                self.plans[event.seq] = event.plan
            case ev.BarPlayed():
                self.bar = event.bar
                self.playing = self.plans.get(event.plan_seq, self.playing)
                for seq in [s for s in self.plans if s < event.plan_seq]:
                    del self.plans[seq]
                if self.playing is not None:
                    self.phase, self.bpm = self.playing.phase, self.playing.bpm
                self.rms_db, self.peak_db = db(event.rms), db(event.peak)
                self.held_bars += self.holding
            case ev.AudioStarted():
                self.device, self.device_ok = event.device, True
            case ev.AudioDeviceChanged(status="lost"):
                self.device_ok = False
                self.device = f"{event.device} LOST at bar {event.bar} ({event.reason}): playing on to the WAV"
            case ev.AudioDeviceChanged():
                self.device, self.device_ok = f"{event.device} (back at bar {event.bar})", True
            case ev.AbletonStatus() if event.state not in ("setup",):
                self.ableton = event.state + (f": {event.detail}" if event.detail else "")
            case ev.LiveBarOff():
                self.live_bars_off.add(event.bar)
            case ev.BarHeld():
                self.holds += 1
            case ev.AudioUnderflow():
                self.underflows += event.count
            case ev.Directive():
                self.critic.append(f"bar {event.bar}: {event.text}")
            case ev.ProviderHealth():
                self.providers = dict(event.states)
            case ev.ProviderStateChanged():
                self.providers[event.provider] = event.new
            case ev.LMResponse():
                self.latency[event.provider] = event.latency_ms
            case ev.Steer(intent="say" | "energy" | "tempo"):
                self.pending[event.seq] = event.text
            case ev.SteerActed():
                words = self.pending.pop(event.cause, None)
                if words is not None:  # the conductor's own answer, under the command line with the others
                    self.answers.append(f'♪ bar {event.bar}: "{words}" → {event.intent}: {event.action}')
                if event.intent in ("hold", "resume"):
                    self.holding = event.intent == "hold"
            case ev.StopPlanned():
                self.end = event.end_bar
            case ev.SetEnded():
                self.ended = event.reason

    def answer(self, text: str) -> None:
        """A command's answer, shown under the command line."""
        self.answers.append(text)

    @property
    def target(self) -> float:
        return self.playing.target if self.playing is not None else 0.0

    @property
    def energy(self) -> float:
        return self.playing.energy if self.playing is not None else 0.0

    def upcoming(self) -> list[tuple[int, str]]:
        """The next planned changes as (bars from now, what), soonest first: a steer's 4-bar line, the next phrase
        decision, the next part of the arc, the end of the set."""
        now = self.bar + 1
        if self.total <= 0:
            return []
        found: list[tuple[int, str]] = []
        if self.pending:
            line = -(-now // STEER_GRID) * STEER_GRID
            words = ", ".join(f'"{w}"' for w in self.pending.values())
            found.append((line - now, f"your {words} at bar {line}"))
        phrase = -(-now // self.phrase_bars) * self.phrase_bars
        if phrase < self.end:
            found.append((phrase - now, f"phrase decision at bar {phrase}"))
        for bar in range(now, min(self.end, now + 400)):
            phase = arc.phase_at(bar, self.total, self.phrase_bars)[0]
            if phase != self.phase and self.end == self.total:
                found.append((bar - now, f"{self.phase} → {phase} at bar {bar}"))
                break
        found.append((self.end - now, f"{'outro ends' if self.end < self.total else 'set ends'} at bar {self.end}"))
        return sorted(found)
