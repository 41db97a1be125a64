"""What the API shows of a running set, folded from its events (a bus tap: synchronous, never blocks).

Read-only requests (``/health``, ``/providers``, the dashboard's first paint) read this view and never touch the
bus, so they are not logged and cannot change what the set decides. What the terminal's live display shows at a
glance (the next change, stalls and held bars, the audio device, Live) comes from the same ``Board``.
"""

from __future__ import annotations

from collections import deque
from statistics import median
from typing import Any

import msgspec

from bergain_actors.core import events as ev
from bergain_actors.display.board import Board
from bergain_actors.music import arc
from bergain_actors.service.replies import (
    CommandView,
    LayerView,
    PhaseBand,
    ProviderView,
    SetSnapshot,
    Upcoming,
)

SYMBOLS = {"closed": "●", "half_open": "◐", "open": "○"}
COMMANDS_SHOWN = 8


class SetView:
    """The latest state of the set as a person (or a dashboard) wants to see it."""

    def __init__(self, key: str = "", phrase_bars: int = 16, tempo_limits: tuple[float, float] = (0.0, 0.0)) -> None:
        self.board = Board()
        self.board.phrase_bars = phrase_bars
        self.key = key
        self.tempo_limits = tempo_limits
        self.name = ""
        self.seq = 0
        self.bar = -1
        self.total_bars = 0
        self.bpm = 0.0
        """The tempo of the bar playing (a glide's step), the scenario's before the first bar."""
        self.beats_per_bar = 4
        self.phase = ""
        self.target_energy = 0.0
        """The bar playing's own target: the arc's, rising bar by bar, as steering moved it (what the log holds)."""
        self.energy = 0.0
        self.layers: tuple[LayerView, ...] = ()
        self.brain = ""
        self.critic = ""
        self.decision: dict[str, Any] = {}
        self.last_action: dict[str, Any] = {}
        """The latest change decided: ``bar``, ``what``, ``why`` (who or what asked for it)."""
        self.notes: deque[dict[str, Any]] = deque(maxlen=8)
        self.providers: dict[str, str] = {}
        self.order: tuple[str, ...] = ()
        self.excluded: dict[str, str] = {}
        self.latency: dict[str, deque[float]] = {}
        self.failures: dict[str, int] = {}
        self.energy_by_bar: list[tuple[int, float, float]] = []
        self.tempo_by_bar: list[tuple[int, float]] = []
        """(first bar, BPM) each time the tempo played changed."""
        self.commands: dict[int, CommandView] = {}
        """The latest commands by seq, with what became of each."""
        self.ended = ""
        self._plans: dict[int, ev.BarPlanned] = {}

    def add(self, event: ev.Event) -> None:
        self.seq = event.seq
        self.board.add(event)
        match event:
            case ev.SetStarted():
                self.name, self.bpm, self.total_bars = event.name, event.bpm, event.total_bars
                self.beats_per_bar = event.beats_per_bar
            case ev.SetEnded():
                self.ended = event.reason
            case ev.ActorStarted() if event.slot in ("conductor", "critic"):
                self._kind(event.slot, event.kind)
            case ev.ActorSwapped() | ev.ActorFellBack() if event.slot in ("conductor", "critic"):
                self._kind(event.slot, event.new)
            case ev.BrainChanged():
                self.brain = event.new
            case ev.PhaseChanged():
                self.phase = event.phase
            case ev.BarPlanned():
                self._plans[event.plan.bar] = event
            case ev.BarPlayed():
                self._played(event.bar)
            case ev.PhraseDecision():
                self.decision = {"bar": event.bar, **msgspec.to_builtins(event.decision)}
                label = event.decision.get("label")
                if label:
                    why = f"the phrase brain's LM chose it among {len(event.decision.get('menu', []))} moves"
                    self.last_action = {"bar": event.bar, "what": label, "why": why}
            case ev.MixerMove() if event.result.startswith("ok") and self.last_action.get("bar") != event.bar:
                why = f"the {self.brain or 'autopilot'}'s rules in the {self.phase or 'set'}"
                self.last_action = {"bar": event.bar, "what": f"{event.move} {event.role}".strip(), "why": why}
            case ev.SteerActed() if event.cause in self.commands:
                said = self.commands[event.cause].text
                why = f"your {said!r}, read as {event.intent}"
                self.last_action = {"bar": event.bar, "what": event.action, "why": why}
            case ev.DirectiveActed():
                why = f"the critic asked: {event.directive}"
                self.last_action = {"bar": event.bar, "what": event.action, "why": why}
            case ev.RLMStep():
                self.decision = {"bar": event.bar, "step": event.step, "reasoning": event.reasoning[:200]}
            case ev.Directive():
                self.notes.append({"bar": event.bar, "kind": event.kind, "text": event.text})
            case ev.ProviderHealth():
                self.providers, self.order, self.excluded = dict(event.states), event.order, dict(event.excluded)
            case ev.ProviderStateChanged():
                self.providers[event.provider] = event.new
                if event.new == "open":
                    self.failures[event.provider] = self.failures.get(event.provider, 0) + 1
            case ev.LMResponse():
                self.latency.setdefault(event.provider, deque(maxlen=32)).append(event.latency_ms)
        self._command(event)

    def _command(self, event: ev.Event) -> None:
        """A performer's command (typed, clicked, posted) and, when it comes, what the set made of it."""
        match event:
            case ev.Steer() | ev.Control() | ev.ProviderControl() if event.source == "control":
                text = event.text if isinstance(event, ev.Steer) else _spelled(event)
                self.commands[event.seq] = CommandView(event.seq, text, "waiting", "", event.bar)
                while len(self.commands) > COMMANDS_SHOWN:
                    del self.commands[min(self.commands)]
            case ev.CommandRejected() if event.cause in self.commands:
                self._outcome(event.cause, "rejected", event.reason)
            case ev.CommandRejected() if event.source == "control":
                self.commands[event.seq] = CommandView(event.seq, event.command, "rejected", event.reason, event.bar)
            case ev.SteerActed() if event.cause in self.commands:
                self._outcome(event.cause, "acted", f"{event.intent}: {event.action}", event.bar)
            case ev.ActorSwapped() if event.cause in self.commands:
                self._outcome(event.cause, "acted", f"{event.slot} {event.old} → {event.new}", event.bar)
            case ev.StopPlanned() if event.cause in self.commands:
                self._outcome(event.cause, "acted", f"outro from bar {event.from_bar}, ends at bar {event.end_bar}")
            case ev.ProviderHealth() if event.cause in self.commands:
                why = event.excluded.get(self.commands[event.cause].text.split()[-1])
                now = "providers: " + ", ".join(event.order)
                self._outcome(event.cause, "rejected" if why else "acted", why or now)

    def _outcome(self, seq: int, state: str, answer: str, bar: int | None = None) -> None:
        old = self.commands[seq]
        at = old.bar if bar is None else bar
        self.commands[seq] = msgspec.structs.replace(old, state=state, answer=answer, bar=at)

    def _kind(self, slot: str, kind: str) -> None:
        if slot == "conductor":
            self.brain = kind
        else:
            self.critic = kind

    def _played(self, bar: int) -> None:
        self.bar = bar
        planned = self._plans.pop(bar, None)
        for old in [b for b in self._plans if b < bar]:
            del self._plans[old]
        if planned is None:
            return
        plan = planned.plan
        self.energy, self.phase, self.target_energy = plan.energy, plan.phase or self.phase, plan.target
        if plan.bpm != self.bpm or not self.tempo_by_bar:
            self.tempo_by_bar.append((bar, plan.bpm))
            del self.tempo_by_bar[:-256]
        self.bpm = plan.bpm
        self.layers = tuple(  # each at its level by the bar's end (a layer fading in shows where it is heading)
            LayerView(layer.role, round(layer.gain if layer.gain_end is None else layer.gain_end, 3), layer.pattern)
            for layer in plan.layers
        )
        self.energy_by_bar.append((bar, round(plan.target, 3), round(plan.energy, 3)))
        del self.energy_by_bar[:-2048]

    def providers_view(self) -> list[ProviderView]:
        """Every provider the set has heard of: circuit, symbol, answer latency, times its circuit opened."""
        names = list(self.order) + sorted(set(self.providers) - set(self.order))
        rows = []
        for name in names:
            state = self.providers.get(name, "closed")
            times = self.latency.get(name)
            rows.append(
                ProviderView(
                    name,
                    state,
                    SYMBOLS.get(state, "?"),
                    preferred=bool(self.order) and self.order[0] == name,
                    latency_ms_p50=round(median(times), 1) if times else None,
                    answers=len(times or ()),
                    opened=self.failures.get(name, 0),
                )
            )
        rows += [ProviderView(n, "excluded", "×", detail=why) for n, why in self.excluded.items()]
        return rows

    def seconds_left(self) -> float:
        """Until the set ends (an outro's end after ``stop``), at the tempo playing."""
        if not self.bpm or not self.total_bars:
            return 0.0
        bars = max(0, self.board.end - (self.bar + 1))
        return round(bars * self.beats_per_bar * 60 / self.bpm, 1)

    def snapshot(self) -> SetSnapshot:
        """The set right now."""
        board = self.board
        bands = [
            PhaseBand(s.name, s.start, s.end, s.low, s.high)
            for s in (arc.sections(self.total_bars, board.phrase_bars) if self.total_bars else ())
        ]
        return SetSnapshot(
            name=self.name,
            seq=self.seq,
            bar=self.bar,
            total_bars=self.total_bars,
            bpm=self.bpm,
            beats_per_bar=self.beats_per_bar,
            phase=self.phase,
            target_energy=round(self.target_energy, 3),
            energy=round(self.energy, 3),
            layers=self.layers,
            brain=self.brain,
            critic=self.critic,
            decision=self.decision,
            critic_notes=list(self.notes),
            energy_by_bar=self.energy_by_bar[-512:],
            ended=self.ended,
            key=self.key,
            end_bar=board.end,
            seconds_left=self.seconds_left(),
            upcoming=[Upcoming(bars, what) for bars, what in board.upcoming()[:3]],
            phases=bands,
            tempo_by_bar=self.tempo_by_bar[-64:],
            tempo_limits=self.tempo_limits,
            commands=sorted(self.commands.values(), key=lambda c: -c.seq),
            stalls=board.holds,
            held_bars=board.held_bars,
            holding=board.holding,
            underflows=board.underflows,
            device=board.device,
            device_ok=board.device_ok,
            ableton=board.ableton,
            live_bars_off=len(board.live_bars_off),
        )


def _spelled(event: ev.Control | ev.ProviderControl) -> str:
    """A command event as a person would have typed it."""
    if isinstance(event, ev.ProviderControl):
        return f"provider {event.op} {event.provider}"
    words = [str(v) if not isinstance(v, bool) else k for k, v in event.args.items()]
    return " ".join([event.command, *words])
