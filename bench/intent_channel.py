"""The bench's other ways of letting SmolLM2 read words (issue 18.3): in-context examples and the noisy channel.

Pure: prompts in, distributions out. Examples come only from the tuning phrases (``intent_phrases.held_out`` is
never shown), a fixed number per intent, chosen and shuffled with a fixed seed, so every prompt prefix is the same
for every phrase (llama.cpp's server keeps it and reads only the rest).

- ``icl``: the cloze of ``reading.cloze`` (each intent's own words after the phrase, against after a blank phrase:
  PMI) under a prefix of labelled tuning phrases.
- ``channel`` (Min et al. 2022, "Noisy Channel Language Model Prompting for Few-Shot Text Classification"): how
  well each intent explains the words, log P(phrase | a lead-in naming the intent) − log P(phrase | a neutral
  lead-in). The neutral term is the same for every intent, so it sets the scale, not the order. Lead-ins: the
  intent's words (``reading.CLOZE``), optionally with tuning phrases of that intent and/or the code's cue words
  (``intents.CUES``: written from the tuning phrases only). A reading of ``bring_in``/``mute`` gets its role the
  same way: the phrase after "the ROLE in/out" for each role.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

from intent_phrases import PHRASES, held_out

from bergain_actors import choice
from bergain_actors.core import events as ev
from bergain_actors.music.intents import CUES, IN_WORDS, KINDS, OUT_WORDS, ROLE_WORDS, IntentKind
from bergain_actors.music.reading import CLOZE

SEED = 18
ICL_SHOTS = 3
"""Labelled tuning phrases per intent in the in-context cloze's prefix (45 in all: about 1,500 tokens)."""
CHANNEL_SHOTS = 4
"""Tuning phrases per intent in a channel lead-in with examples."""
SYSTEM = "You help a techno DJ during a live set."
NEUTRAL = "Wanted: ..."
ROLES: dict[str, tuple[str, ...]] = {}
for _name, _role in ROLE_WORDS.items():
    ROLES.setdefault(_role, ())
    ROLES[_role] += (_name,)
CUE_WORDS: dict[IntentKind, tuple[str, ...]] = {
    **CUES,
    "bring_in": (*sorted(IN_WORDS), ", ".join(sorted(ROLE_WORDS))),
    "mute": (*sorted(OUT_WORDS), ", ".join(sorted(ROLE_WORDS))),
}
"""Per intent, the code's cue words (``bring_in``/``mute`` have none: their in/out words and the role names)."""


def tuning_examples(per: int) -> dict[IntentKind, list[str]]:
    """``per`` tuning phrases of each intent (their main label's), a seeded choice; never a held-out one."""
    rng = random.Random(SEED)
    out: dict[IntentKind, list[str]] = {}
    for kind in KINDS:
        mine = [p[0] for i, p in enumerate(PHRASES) if not held_out(i) and p[1][0].split(":")[0] == kind]
        out[kind] = rng.sample(mine, per)
    return out


def icl_cloze(text: str) -> choice.cloze.Cloze:
    """``reading.cloze``'s question under a fixed prefix of ``ICL_SHOTS`` labelled tuning phrases per intent."""
    examples = [(t, kind) for kind, texts in tuning_examples(ICL_SHOTS).items() for t in texts]
    random.Random(SEED).shuffle(examples)
    demo = "\n\n".join(f"Typed: {t}\nWanted: the music to{CLOZE[kind]}" for t, kind in examples)
    return choice.cloze.cloze(
        KINDS,
        [CLOZE[kind] for kind in KINDS],
        system=f"{SYSTEM} What performers typed, each with what they wanted:\n\n{demo}",
        context=f"Typed: {text}",
        question="",
        answer="Wanted: the music to",
        premise="Typed: ...",
    )


def lead_in(kind: IntentKind, cues: bool, shots: int) -> str:
    """The channel's lead-in naming ``kind``: its words, and optionally the code's cue words and tuning phrases."""
    words = f"Wanted: the music to{CLOZE[kind]}"
    if cues:
        words += f" ({', '.join(CUE_WORDS[kind])})"
    if shots:
        typed = " / ".join(f'"{t}"' for t in tuning_examples(shots)[kind])
        words += f". Performers typed for that, e.g.: {typed}"
    return words


def role_lead_in(kind: IntentKind, role: str) -> str:
    return f"Wanted: the {role} ({', '.join(ROLES[role])}) {'in' if kind == 'bring_in' else 'out'}"


def channel_request(text: str, leads: Sequence[str], request_id: str) -> ev.LMRequest:
    """Scores `` text`` as what was typed after each lead-in, then after the neutral one (the last)."""

    def messages(lead: str) -> tuple[dict[str, str], ...]:
        return (
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": lead},
            {"role": "assistant", "content": "Typed:"},
        )

    first, *rest = [messages(lead) for lead in (*leads, NEUTRAL)]
    return ev.LMRequest(
        request_id=request_id,
        purpose="intent",
        messages=first,
        variants=tuple(rest),
        continuations=(f" {text}",),
        max_tokens=1,
        temperature=0.0,
        best_effort=True,
    )


def channel_distribution(text: str, scores: Sequence[Mapping[str, float]]) -> list[float]:
    """Per lead-in, softmax of log P(text | lead-in) − log P(text | neutral) (the last scores)."""
    *leads, neutral = [s[f" {text}"] for s in scores]
    explained = [x - neutral for x in leads]
    top = max(explained)
    weights = [math.exp(x - top) for x in explained]
    total = sum(weights)
    return [w / total for w in weights]
