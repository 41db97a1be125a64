"""Chat with the session, grounded: every fact in an answer comes from the set's state in code, never from an LM.

A question is sorted into topics (key, tempo, bar, phase, time left, layers, the last decision and why, providers,
Ableton's tracks, energy) by code; the answer states those facts as the set holds them now (the tempo of the bar
playing, also during a glide). Words that ask for a change are an instruction: the answer names the command
(``proposed``, a line ``control.parse`` accepts) and says nothing was changed; a person confirms it by sending
that line (a word in the terminal, the dashboard's button, ``/control`` over HTTP). When code finds no topic and
the set has an LM, the LM chooses the topic as a calibrated choice (``bergain_actors.choice``); it never writes a
fact. Pure except for reading the session.
"""

from __future__ import annotations

import random
import re
from collections import OrderedDict, deque
from typing import TYPE_CHECKING, Any

import msgspec

from bergain_actors.control import commands
from bergain_actors.core import events as ev
from bergain_actors.music.intents import Reading, lexical, normalize

if TYPE_CHECKING:
    from bergain_actors.service.replies import AskReply
    from bergain_actors.service.session import Session

TURNS = 6
"""Question/answer pairs a conversation remembers."""
CONVERSATIONS = 64
"""Conversations kept at once; the least recently used is forgotten first."""

TOPICS: dict[str, str] = {
    "key": r"\bkey\b|\bscale\b|\btonart\b|\btonalidad\b|\bwhat note",
    "tempo": r"\btempo\b|\bbpm\b|\bhow fast\b|\bspeed\b|\bschnell\b|\bvelocidad\b",
    "bar": r"\bbar\b|\bwhere are we\b|\bposition\b|\btakt\b|\bcompas\b",
    "phase": r"\bphase\b|\bpart of the set\b|\bsection\b|\bin the set\b|\bpeak\b|\bbreakdown\b|\bintro\b|\boutro\b",
    "time_left": r"\btime left\b|\bhow long\b|\bleft\b|\bremaining\b|\bend\b|\bminutes\b",
    "layers": r"\blayers?\b|\bplaying\b|\binstruments?\b|\bwhat.*(in|on) the mix\b|\btracks? (are|is) (on|in)\b",
    "decision": r"\bwhy\b|\blast (change|decision|move)\b|\bdecid|\bchanged?\b|\bjust did\b|\bnext\b",
    "providers": r"\bproviders?\b|\bmodel\b|\blm\b|\bllm\b|\bcircuit\b|\bai\b",
    "ableton": r"\bableton\b|\blive tracks?\b|\bclips?\b",
    "energy": r"\benergy\b|\bintens|\btarget\b|\bloud\b",
}
"""How questions about each fact are worded (lower case, accents stripped)."""

TOPIC_GLOSS = {
    "key": "the musical key",
    "tempo": "the tempo in BPM",
    "bar": "which bar is playing",
    "phase": "the part of the set (intro, build, peak, breakdown, outro)",
    "time_left": "how much time is left",
    "layers": "which instruments are playing",
    "decision": "the last change and why it was made",
    "providers": "the language model providers",
    "ableton": "Ableton Live's tracks",
    "energy": "the energy level",
}
QUESTION_WORDS = frozenset(
    {"what", "which", "where", "when", "why", "how", "who", "is", "are", "was", "do", "does", "did", "can", "could",
     "tell", "que", "cual", "cuando", "donde", "por", "como", "wie", "wo", "warum", "welche", "welcher"}
)  # fmt: skip
ASKING = re.compile(r"^(can|could|would|will|shall|should|please|pls|let'?s|lets|i want|i'd like|make|give)\b")

COMMAND_OF: dict[str, str] = {
    "darker": "darker",
    "brighter": "brighter",
    "denser": "denser",
    "sparser": "sparser",
    "energy_up": "energy +",
    "energy_down": "energy -",
    "tension": "more tension",
    "drop": "drop",
    "breakdown": "breakdown now",
    "hypnotic": "more hypnotic",
    "vary": "more variation",
    "faster": "tempo +4",
    "slower": "tempo -4",
}
"""The command line a confirmed instruction sends, per intent (roles: ``<role> in`` / ``<role> out``)."""


class EmptyQuestion(ValueError):
    """A question with no words: refused, not handed to the LM to guess a topic for."""


class Memory:
    """The last ``TURNS`` exchanges of each conversation id."""

    def __init__(self) -> None:
        self._turns: OrderedDict[str, deque[tuple[str, str]]] = OrderedDict()
        self.proposed: dict[str, str] = {}
        """Per conversation, the command its last answer proposed (what a confirmation sends)."""

    def history(self, conversation: str) -> list[tuple[str, str]]:
        return list(self._turns.get(conversation, ()))

    def remember(self, conversation: str, question: str, answer: str) -> None:
        turns = self._turns.pop(conversation, None) or deque(maxlen=TURNS)
        turns.append((question, answer))
        self._turns[conversation] = turns
        while len(self._turns) > CONVERSATIONS:
            gone, _ = self._turns.popitem(last=False)
            self.proposed.pop(gone, None)


def context(session: Session) -> dict[str, Any]:
    """The facts of the session, read from its state: with no set there is no tempo, key or phase to claim."""
    view = session.view
    facts: dict[str, Any] = {"playing": session.plays and not view.ended and view.bar >= 0}
    if session.plays and view.bar >= 0:
        conductor = session.supervisor.actors.get("conductor")
        goal = getattr(conductor, "tempo_goal", None)
        facts.update(
            key=view.key,
            tempo_bpm=view.bpm,
            bar=view.bar + 1,
            of_bars=view.board.end,
            phase=view.phase,
            seconds_left=view.seconds_left(),
            energy=round(view.energy, 2),
            target_energy=round(view.target_energy, 2),
            layers=[layer.role for layer in view.layers if layer.gain > 0 and layer.role != "bed"],
            brain=view.brain,
            last_decision=dict(view.last_action),
        )
        if goal is not None and goal != view.bpm:
            facts["tempo_goal_bpm"] = goal
    elif session.plays:
        facts["starting"] = True
    facts["providers"] = {row.name: row.state for row in session.providers()}
    ableton = session.supervisor.actors.get("ableton")
    tracks = getattr(getattr(ableton, "state", None), "tracks", None)
    if tracks:
        facts["ableton_tracks"] = list(tracks)
    return facts


def topics(question: str) -> list[str]:
    """The facts a question asks about, by code (empty: none recognised)."""
    text = normalize(question)
    return [name for name, pattern in TOPICS.items() if re.search(pattern, text)]


def proposed(question: str) -> str | None:
    """The command an instruction asks for (a line ``control.parse`` accepts), or None for a question."""
    parsed = commands.parse(question)
    if isinstance(parsed, ev.Control | ev.ProviderControl) or (isinstance(parsed, ev.Steer) and parsed.intent != "say"):
        return " ".join(question.split())
    words = normalize(question).split()
    if not words or (words[0] in QUESTION_WORDS and not ASKING.match(" ".join(words))):
        return None
    if question.strip().endswith("?") and not ASKING.match(" ".join(words)):
        return None
    return command_for(lexical(question))


def command_for(reading: Reading) -> str | None:
    """The command line that asks a set for the reading's most likely intent (None: nothing read)."""
    top = reading.top
    if top is None:
        return None
    if top.kind in ("bring_in", "mute"):
        return f"{top.role} {'in' if top.kind == 'bring_in' else 'out'}" if top.role else None
    return COMMAND_OF[top.kind]


def say(facts: dict[str, Any], topic: str) -> str:
    """One sentence stating a fact as the state holds it."""
    if topic == "providers":
        states = facts.get("providers") or {}
        return "LM providers: " + (", ".join(f"{n} ({s})" for n, s in states.items()) or "none in this set") + "."
    if topic == "ableton":
        tracks = facts.get("ableton_tracks")
        return f"Ableton's tracks: {', '.join(tracks)}." if tracks else "No Ableton Live is connected to this set."
    if not facts.get("playing"):
        return "The set is starting: nothing has played yet." if facts.get("starting") else "No set is playing."
    match topic:
        case "key":
            return f"We are in {facts['key']}."
        case "tempo":
            goal = facts.get("tempo_goal_bpm")
            glide = f", gliding to {goal:g} BPM" if goal is not None else ""
            return f"The tempo playing now is {facts['tempo_bpm']:g} BPM{glide}."
        case "bar":
            return f"Bar {facts['bar']} of {facts['of_bars']}."
        case "phase":
            return f"We are in the {facts['phase']}."
        case "time_left":
            left = round(facts["seconds_left"])
            return f"{left // 60} min {left % 60:02d} s left (the set ends at bar {facts['of_bars']})."
        case "layers":
            return f"Playing: {', '.join(facts['layers']) or 'nothing'}."
        case "energy":
            return f"Energy {facts['energy']:.2f} against a target of {facts['target_energy']:.2f}."
        case "decision":
            last = facts.get("last_decision") or {}
            if not last:
                return "No change has been made yet."
            return f"Last change, bar {last['bar'] + 1}: {last['what']} ({last['why']})."
    return ""


async def converse(session: Session, memory: Memory, question: str, conversation: str) -> AskReply:
    """One turn of a conversation about the session (``/ask``, the MCP ``ask`` tool): facts from the state,
    the command an instruction asks for (never applied), remembered."""
    from bergain_actors.service.replies import AskReply

    if not question.strip():
        raise EmptyQuestion("question: empty; ask about the set, e.g. 'what key are we in?'")
    facts = context(session)
    command = proposed(question)
    asked = topics(question)
    how, provider, seq = "code", "", 0
    if command is not None:
        text = f"Nothing is changed until you confirm: send {command!r} to do it."
    else:
        if not asked:
            picked = await _lm_topic(session, question)
            if picked is not None:
                asked, provider, seq = [picked[0]], picked[1], picked[2]
                how = "the LM chose the topic"
        sentences = [say(facts, topic) for topic in asked[:3]]
        text = " ".join(s for s in sentences if s) or (
            "I can tell you the key, tempo, bar, phase, time left, layers, energy, the last change and why, "
            "the providers and Ableton's tracks; or ask for a change (e.g. 'darker') and confirm it."
        )
    memory.remember(conversation, question, text)
    if command is None:
        memory.proposed.pop(conversation, None)
    else:
        memory.proposed[conversation] = command
    return AskReply(text, conversation, command, facts, provider, seq, proposed=command, topics=asked, how=how)


async def _lm_topic(session: Session, question: str) -> tuple[str, str, int] | None:
    """The topic the LM's calibrated choice gives a question code could not sort (None: no LM, or it failed)."""
    from bergain_actors import choice
    from bergain_actors.service.session import NoRouter

    names = list(TOPIC_GLOSS)
    b = choice.ballot(
        [TOPIC_GLOSS[n] for n in names],
        system="You help a techno DJ. Choose what the performer's question is about.",
        context=f'The performer asked: "{question}"',
        question="What is the question about?",
        rng=random.Random(0),
    )
    try:
        got = await choice.ask(session, b, purpose="ask", timeout=60)
    except NoRouter:
        return None
    if isinstance(got, ev.LMFailed) or got[0].index < 0:
        return None
    picked, answer = got
    return names[picked.index], answer.provider, answer.seq


async def read_intents(session: Session | None, text: str, *, timeout: float = 60.0) -> dict[str, Any]:
    """What ``text`` asks the music to do, read as a set reads a steer: the LM's calibrated choice among the intents
    code proposes (through ``session``'s router, logged), or code alone when there is no LM or it fails (said in
    ``fallback``). Nothing is applied: ``command`` is the line that would ask a set for the likeliest intent."""
    from bergain_actors import choice
    from bergain_actors.music import reading
    from bergain_actors.service.session import NoRouter

    lex, kinds = reading.candidates(text)
    found: dict[str, Any] = {"lm": None, "fallback": ""}
    got: Reading = lex
    if kinds:
        try:
            if session is None:
                raise NoRouter(NoRouter.MESSAGE)
            asked = await choice.ask(
                session, reading.ballot(text, kinds, random.Random(0)), purpose="intent", timeout=timeout
            )
        except NoRouter as exc:
            asked = ev.LMFailed(request_id="intent", reason=str(exc))
        if isinstance(asked, ev.LMFailed):
            found["fallback"] = f"the LM failed: {asked.reason}; read by code alone"
        else:
            got = reading.combine(lex, kinds, asked[0])
            found["lm"] = {"options": list(reading.options(kinds)), **msgspec.to_builtins(asked[0])}
    return {**msgspec.to_builtins(got), **found, "command": command_for(got)}
