"""The Conductor's reader of words: the brief and every steer become intents (``IntentsRead``), by the LM's
calibrated choice among the intents code proposes (``music/reading.py``) when the set has an LM to ask, by code
alone otherwise or when the LM fails or is late (said in the event's ``fallback``).

Each reading is one ``LMRequest`` (purpose ``intent``, best effort: a failure never opens the circuit the phrase
decisions need), sent when the words arrive; its answer is logged, so replay reads the words the same way.
Offline (``--fast``) the set waits for the answer, as it does for a phrase decision.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import msgspec

from bergain_actors import choice
from bergain_actors.core import events as ev
from bergain_actors.music import reading
from bergain_actors.music.intents import IntentKind, Reading, lexical

if TYPE_CHECKING:
    from bergain_actors.actors.conductor.base import Conductor

LM_KINDS = ("local", "openai", "anthropic")
"""Providers that can read words; a scripted one answers canned decisions, so words are read in code."""


class Words:
    def __init__(self, conductor: Conductor) -> None:
        self.conductor = conductor
        config = conductor.config
        providers = conductor.ctx.scenario.router.providers
        has_lm = any(brain.name in ("phrase", "rlm") for brain in conductor.brains)
        setting = getattr(config, "words", "auto")
        self.asks = setting == "lm" or (setting == "auto" and has_lm and any(p.kind in LM_KINDS for p in providers))
        """Whether this set asks an LM to read words."""
        self.pending: dict[str, tuple[str, tuple[IntentKind, ...], choice.Ballot]] = {}
        self.answers: dict[str, ev.LMResponse | ev.LMFailed] = {}

    def ask(self, request_id: str, text: str, deadline_bar: int = -1) -> None:
        """Ask the LM to read ``text`` (when this set asks one and the code proposes more than one intent)."""
        kinds = reading.candidates(text)[1]
        if not self.asks or not kinds:
            return
        conductor = self.conductor
        b = reading.ballot(text, kinds, random.Random(0))
        self.pending[request_id] = (text, kinds, b)
        conductor.ctx.emit(
            choice.request(
                b,
                request_id=request_id,
                purpose="intent",
                model=conductor.config.main_lm,
                deadline_bar=deadline_bar,
                bar=conductor.next_bar,
                best_effort=True,
            )
        )

    def handle(self, event: ev.Event) -> bool:
        """Keep an answer to one of our requests; True when it was one."""
        if isinstance(event, ev.LMResponse | ev.LMFailed) and event.request_id in self.pending:
            self.answers.setdefault(event.request_id, event)
            return True
        return False

    def waiting(self, request_id: str) -> bool:
        return request_id in self.pending and request_id not in self.answers

    def read(self, request_id: str, text: str) -> tuple[Reading, dict[str, Any], str]:
        """(the reading, the LM's choice as logged, why the code's reading stands in for the LM's or "")."""
        lex = lexical(text)
        asked = self.pending.pop(request_id, None)
        answer = self.answers.pop(request_id, None)
        if asked is None:
            return lex, {}, ""
        _, kinds, b = asked
        if answer is None:
            return lex, {}, "the LM had not answered by the bar line"
        if isinstance(answer, ev.LMFailed):
            return lex, {}, f"the LM failed: {answer.reason}"
        picked = choice.decide(b, answer, 0.0, random.Random(0))
        logged = {"options": list(reading.options(kinds)), **msgspec.json.decode(msgspec.json.encode(picked))}
        if picked.method == "none":
            return lex, logged, "nothing readable in the LM's answer"
        return reading.combine(lex, kinds, picked), logged, ""
