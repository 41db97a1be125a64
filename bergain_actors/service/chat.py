"""Chat with the session: the set's context in the prompt, a bounded memory per conversation, and steering
suggestions the user may apply (never applied here). Pure except for reading the session's view."""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bergain_actors.core import events as ev
    from bergain_actors.service.replies import AskReply
    from bergain_actors.service.session import Session

TURNS = 6
"""Question/answer pairs a conversation remembers."""
CONVERSATIONS = 64
"""Conversations kept at once; the least recently used is forgotten first."""

SYSTEM = (
    "You are the co-DJ of a live techno set. Answer the performer in one or two short sentences, "
    "using only the facts about the set given here. Facts: {facts}."
)

STEERS = (
    (r"\bdark(er)?\b", "steer darker"),
    (r"\bbright(er)?\b|\blight(er)?\b", "steer brighter"),
    (r"\bbreak ?down\b", "steer breakdown now"),
    (r"\b(more|higher|raise|push)\b.*\b(energy|intens|tension)", "energy +"),
    (r"\b(less|lower|calm|cool)\b.*\b(energy|intens|tension)|\bcalm(er)? down\b", "energy -"),
    (r"\bhold\b|\bkeep (it|the groove)\b", "hold"),
)


class Memory:
    """The last ``TURNS`` exchanges of each conversation id."""

    def __init__(self) -> None:
        self._turns: OrderedDict[str, deque[tuple[str, str]]] = OrderedDict()

    def history(self, conversation: str) -> list[tuple[str, str]]:
        return list(self._turns.get(conversation, ()))

    def remember(self, conversation: str, question: str, answer: str) -> None:
        turns = self._turns.pop(conversation, None) or deque(maxlen=TURNS)
        turns.append((question, answer))
        self._turns[conversation] = turns
        while len(self._turns) > CONVERSATIONS:
            self._turns.popitem(last=False)


def context(session: Session) -> dict[str, Any]:
    """What the LM is told about the session: the tempo playing, key, phase, energy, layers, recent decisions,
    Ableton. With no set there is no tempo, key or phase to claim: only that nothing plays."""
    view = session.view
    facts: dict[str, Any] = {}
    if session.plays:
        facts["tempo_bpm"] = view.bpm or session.scenario.bpm  # the bar playing's (a glide's step)
        facts["key"] = view.key
    facts["playing"] = session.plays and not view.ended
    if session.plays:
        facts.update(
            bar=max(view.bar, 0) + 1,
            of_bars=view.total_bars,
            phase=view.phase,
            energy=round(view.energy, 2),
            target_energy=round(view.target_energy, 2),
            layers=[layer.role for layer in view.layers],
            brain=view.brain,
            last_decision=view.decision,
            critic=[note["text"] for note in list(view.notes)[-2:]],
        )
    ableton = session.supervisor.actors.get("ableton")
    tracks = getattr(getattr(ableton, "state", None), "tracks", None)
    if tracks:
        facts["ableton_tracks"] = list(tracks)
    return facts


def describe(facts: dict[str, Any]) -> str:
    parts = []
    for name, value in facts.items():
        if value in ("", [], {}, None):
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value
        parts.append(f"{name.replace('_', ' ')}: {shown}")
    return "; ".join(parts)


def messages(facts: dict[str, Any], history: list[tuple[str, str]], question: str) -> list[dict[str, str]]:
    out = [{"role": "system", "content": SYSTEM.format(facts=describe(facts))}]
    for asked, answered in history:
        out += [{"role": "user", "content": asked}, {"role": "assistant", "content": answered}]
    out.append({"role": "user", "content": question})
    return out


def suggestion(question: str, answer: str) -> str | None:
    """A steering command the exchange points at (applied only if the user sends it to ``/control``)."""
    text = f"{question}\n{answer}".lower()
    for pattern, command in STEERS:
        if re.search(pattern, text):
            return command
    return None


async def converse(session: Session, memory: Memory, question: str, conversation: str) -> AskReply | ev.LMFailed:
    """One turn of a conversation about the session (``/ask``, the MCP ``ask`` tool): the LM's answer, logged,
    remembered, with the command it points at. Raises ``NoRouter`` when the session has no LM."""
    from bergain_actors.core import events as ev
    from bergain_actors.service.replies import AskReply

    facts = context(session)
    answer = await session.ask_lm("ask", messages(facts, memory.history(conversation), question), max_tokens=160)
    if isinstance(answer, ev.LMFailed):
        return answer
    text = answer.text.strip()
    memory.remember(conversation, question, text)
    return AskReply(text, conversation, suggestion(question, text), facts, answer.provider, answer.seq)
