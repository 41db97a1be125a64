"""``llm``: a Critic that asks an LM, through the router, for one directive per phrase.

At the last bar of each phrase it describes what the phrase measured (the plans' energy and density, and what
the audio measured) and asks for one directive from a fixed list, constrained by a grammar on llama.cpp and a
schema elsewhere; code attaches the measurable target, so an LM's directive is checked like any other. The answer
is needed within half a phrase (``deadline_bar``): late, failed, unreadable or with no router at all, the
critic falls back to the ``arc`` rules and says so (``CriticChanged``); it keeps asking each phrase, and an answer
in time brings it back. Everything it decides comes from events (the LM's answers are logged), so it replays.
"""

from __future__ import annotations

import json
from typing import Any

from bergain_actors.actors.critic.arc import ArcRules
from bergain_actors.actors.critic.base import Critic
from bergain_actors.core import events as ev
from bergain_actors.core.actor import ActorContext
from bergain_actors.music import arc
from bergain_actors.music.critique import Finding, measures

KINDS = ("none", "energy_up", "energy_down", "less_dense", "vary", "add_kick", "darker", "brighter", "quieter")
"""What the LM may ask for ("none": the phrase is fine as it is)."""

SYSTEM = (
    "You are the critic of a live techno set. Read what the last phrase measured and give the DJ one directive "
    f"for the next one, or none if it is right. Answer with JSON only, e.g. {json.dumps({'directive': 'vary'})}."
)


def grammar() -> str:
    opening = json.dumps('{"directive":')
    kinds = " | ".join(json.dumps(json.dumps(k)) for k in KINDS)
    return f'root ::= {opening} kind "}}"\nkind ::= {kinds}'


def schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"directive": {"type": "string", "enum": list(KINDS)}},
        "required": ["directive"],
    }


class LLMCritic(Critic):
    kind = "llm"
    subscribes = (ev.BarPlanned, ev.BarPlayed, ev.LMResponse, ev.LMFailed)

    def __init__(self, ctx: ActorContext, config: Any) -> None:
        super().__init__(ctx, config)
        self.rules = ArcRules(self)
        self.mode = "llm"
        self.deadlines: dict[str, int] = {}
        """Open requests → the bar by which their answer is needed."""
        self.lead = max(1, self.phrase_bars // 2)

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.LMResponse | ev.LMFailed):
            if event.request_id in self.deadlines:
                bar = self.deadlines.pop(event.request_id)
                self.answered(event, bar)
            return
        super().handle(event)

    # --- asking ---------------------------------------------------------------------------------------------------

    def heard(self, event: ev.BarPlayed) -> None:
        for request_id, deadline in list(self.deadlines.items()):
            if event.bar >= deadline:
                del self.deadlines[request_id]
                self.fall_back(f"no answer for {request_id} by bar {deadline}", event.bar)
        if (event.bar + 1) % self.phrase_bars == 0:
            self.ask(event)

    def ask(self, event: ev.BarPlayed) -> None:
        recent = list(self.played)[-self.phrase_bars :]
        now = measures(recent)
        phase, target, cap = arc.phase_at(event.bar + 1, self.ctx.set.total_bars, self.phrase_bars)
        figures = ", ".join(f"{name} {value:g}" for name, value in now.items())
        text = "\n".join(
            [
                f"Brief: {self.ctx.scenario.conductor.brief}",
                f"Next phrase: bar {event.bar + 1} of {self.ctx.set.total_bars}, {phase}, target energy {target:.2f},"
                f" at most {cap} layers.",
                f"The last phrase measured: {figures}.",
                f"Directives: {', '.join(KINDS)}.",
            ]
        )
        request_id = f"critic:{event.bar}"
        deadline = event.bar + self.lead
        self.deadlines[request_id] = deadline
        self.ctx.emit(
            ev.LMRequest(
                request_id=request_id,
                purpose="critic",
                messages=({"role": "system", "content": SYSTEM}, {"role": "user", "content": text}),
                model=self.config.model,
                response_schema=schema(),
                grammar=grammar(),
                max_tokens=self.config.max_tokens,
                deadline_bar=deadline,
                bar=event.bar,
                cause=event.seq,
            )
        )

    # --- answers --------------------------------------------------------------------------------------------------

    def answered(self, event: ev.LMResponse | ev.LMFailed, bar: int) -> None:
        if isinstance(event, ev.LMFailed):
            self.fall_back(f"the LM failed: {event.reason}", bar)
            return
        try:
            kind = json.loads(event.text).get("directive")
        except (ValueError, AttributeError):
            kind = None
        if kind not in KINDS:
            self.fall_back(f"unreadable answer {event.text[:60]!r}", bar)
            return
        self.change("llm", f"the LM answered for the phrase ending at bar {bar}", bar)
        if kind == "none":
            return
        finding = self.target(kind)
        if finding is None:
            return
        directive = self.ctx.emit(
            ev.Directive(
                kind=finding.kind,
                text=finding.text,
                data={**finding.data, "by": self.kind},
                bar=self.played[-1].bar if self.played else bar,
                cause=event.seq,
            )
        )
        assert isinstance(directive, ev.Directive)
        self.pending.append(directive)

    def target(self, kind: str) -> Finding | None:
        """The LM's directive with the measurable target code gives it (None: nothing measurable to move)."""
        now = measures(list(self.played)[-self.every :])
        bar = self.played[-1].bar if self.played else 0
        _, target, cap = arc.phase_at(bar + 1, self.ctx.set.total_bars, self.phrase_bars)
        goals = {
            "energy_up": ("energy", min(1.0, max(target, now.get("energy", 0.0) + 0.1))),
            "energy_down": ("energy", max(0.0, min(target, now.get("energy", 0.0) - 0.1))),
            "less_dense": ("layers", min(cap, now.get("layers", 0.0) - 1)),
            "vary": ("sameness", 0.0),
            "add_kick": ("kick_presence", 1.0),
            "darker": ("centroid_hz", now.get("centroid_hz", 0.0) * 0.7),
            "brighter": ("centroid_hz", now.get("centroid_hz", 0.0) * 1.4),
            "quieter": ("loudness_db", now.get("loudness_db", 0.0) - 3.0),
        }
        measure, goal = goals[kind]
        if measure not in now:
            return None
        value = now[measure]
        text = f"llm: {kind.replace('_', ' ')} ({measure} {value:g} → {goal:g})"
        return Finding(kind, text, 1, {"measure": measure, "value": round(value, 4), "target": round(goal, 4)})

    # --- falling back ---------------------------------------------------------------------------------------------

    def fall_back(self, reason: str, bar: int) -> None:
        self.change("arc", reason, bar)

    def change(self, mode: str, reason: str, bar: int) -> None:
        if mode != self.mode:
            old, self.mode = self.mode, mode
            self.ctx.emit(ev.CriticChanged(old=old, new=mode, reason=reason, bar=bar))

    @property
    def voice(self) -> str:
        return self.mode

    def findings(self, event: ev.BarPlayed) -> list[Finding]:
        """Between the LM's directives, nothing; fallen back, the arc's rules every ``every_bars`` bars."""
        return self.rules.findings() if self.mode == "arc" else []
