"""What the API shows of a running set, folded from its events (a bus tap: synchronous, never blocks).

Read-only requests (``/health``, ``/providers``, the dashboard's first paint) read this view and never touch the
bus, so they are not logged and cannot change what the set decides.
"""

from __future__ import annotations

from collections import deque
from statistics import median
from typing import Any

import msgspec

from bergain_actors.core import events as ev
from bergain_actors.service.replies import LayerView, ProviderView, SetSnapshot

SYMBOLS = {"closed": "●", "half_open": "◐", "open": "○"}


class SetView:
    """The latest state of the set as a person (or a dashboard) wants to see it."""

    def __init__(self) -> None:
        self.name = ""
        self.seq = 0
        self.bar = -1
        self.total_bars = 0
        self.bpm = 0.0
        self.beats_per_bar = 4
        self.phase = ""
        self.target_energy = 0.0
        self.energy = 0.0
        self.layers: tuple[LayerView, ...] = ()
        self.brain = ""
        self.critic = ""
        self.decision: dict[str, Any] = {}
        self.notes: deque[dict[str, Any]] = deque(maxlen=8)
        self.providers: dict[str, str] = {}
        self.order: tuple[str, ...] = ()
        self.excluded: dict[str, str] = {}
        self.latency: dict[str, deque[float]] = {}
        self.failures: dict[str, int] = {}
        self.energy_by_bar: list[tuple[int, float, float]] = []
        self.ended = ""
        self._plans: dict[int, ev.BarPlanned] = {}

    def add(self, event: ev.Event) -> None:
        self.seq = event.seq
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
                self.phase, self.target_energy = event.phase, event.target_energy
            case ev.BarPlanned():
                self._plans[event.plan.bar] = event
            case ev.BarPlayed():
                self._played(event.bar)
            case ev.PhraseDecision():
                self.decision = {"bar": event.bar, **msgspec.to_builtins(event.decision)}
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
        self.energy = plan.energy
        self.layers = tuple(LayerView(layer.role, round(layer.gain, 3), layer.pattern) for layer in plan.layers)
        self.energy_by_bar.append((bar, round(self.target_energy, 3), round(plan.energy, 3)))
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

    def snapshot(self) -> SetSnapshot:
        """The set right now."""
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
        )
