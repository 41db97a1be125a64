"""Words → intents: a fixed vocabulary of what a performer may ask of the music, and the code that reads it.

Every reading of words (the brief, a steer from any front end, an ``ask`` that is an instruction) ends as a
``Reading``: intents from ``KINDS`` with probabilities. ``lexical`` proposes them in code — cue words in English,
German and Spanish, tolerant of misspellings, with "less"/"too"/"no" turning a cue into its opposite and
"up"/"down" giving a direction to nouns like tempo or energy; the LM (``bergain_actors.actors.conductor.words``)
chooses among them as a calibrated choice. ``keywords`` is the older single-rule reading
(``steering.intent_of``), kept as the baseline the benchmark compares against. Pure: text in, reading out.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from typing import Literal, get_args

import msgspec

from bergain_actors.music import steering

IntentKind = Literal[
    "darker",
    "brighter",
    "denser",
    "sparser",
    "energy_up",
    "energy_down",
    "tension",
    "drop",
    "breakdown",
    "hypnotic",
    "vary",
    "bring_in",
    "mute",
    "faster",
    "slower",
]
KINDS: tuple[IntentKind, ...] = get_args(IntentKind)

GLOSS: dict[IntentKind, str] = {
    "darker": "a darker, deeper, gloomier sound",
    "brighter": "a brighter, airier, more sparkling sound",
    "denser": "more layers playing at once, a fuller mix",
    "sparser": "fewer layers, a thinner, more minimal mix",
    "energy_up": "more energy, harder and louder",
    "energy_down": "less energy, calmer and softer",
    "tension": "build tension, suspense before a drop",
    "drop": "the drop: release, everything back in",
    "breakdown": "a breakdown: the kick and the low end leave",
    "hypnotic": "more hypnotic and repetitive, fewer changes",
    "vary": "more variation, change something",
    "bring_in": "bring a named instrument in",
    "mute": "take a named instrument out",
    "faster": "a faster tempo, more BPM",
    "slower": "a slower tempo, fewer BPM",
}
"""What each intent means, in the words an LM is shown for it."""


class Intent(msgspec.Struct, frozen=True):
    kind: IntentKind
    p: float
    role: str = ""
    """The layer, for ``bring_in`` and ``mute``."""


class Reading(msgspec.Struct, frozen=True):
    """What some words were taken to mean: intents, most likely first (empty: nothing the vocabulary knows)."""

    text: str
    intents: tuple[Intent, ...] = ()
    method: str = "lexical"
    """``lexical`` (code alone), ``lm`` (the LM's calibrated choice among the lexical candidates or all kinds),
    ``keywords`` (the baseline rule)."""

    @property
    def top(self) -> Intent | None:
        return self.intents[0] if self.intents else None

    def describe(self) -> str:
        """``darker 0.62, hypnotic 0.30`` (roles named): the line a performer reads."""
        return ", ".join(f"{label(i.kind, i.role)} {i.p:.2f}" for i in self.intents) or "nothing the vocabulary knows"


def label(kind: str, role: str = "") -> str:
    return f"{kind}:{role}" if role else kind


# --- the lexicon ----------------------------------------------------------------------------------------------------

CUES: dict[IntentKind, tuple[str, ...]] = {
    "darker": (
        "dark", "darker", "deep", "deeper", "moody", "murky", "gloomy", "sinister", "shadow", "brooding", "sombre",
        "somber", "dub", "dubby", "heavy", "grim", "dunkel", "dunkler", "duster", "dusterer", "finster", "tief",
        "oscuro", "sombrio", "tenebroso", "profundo", "basement", "warehouse",
    ),
    "brighter": (
        "bright", "brighter", "brightness", "light", "lighter", "airy", "sparkle", "sparkling", "shine", "shimmer",
        "crisp", "sunny", "sun", "euphoric", "uplifting", "happy", "top end", "highs", "open up", "hell", "heller",
        "luftig", "luftiger", "strahlend", "brillante", "luminoso", "claro", "alegre", "euforico",
    ),
    "denser": (
        "dense", "denser", "thick", "thicker", "thicken", "fuller", "fill", "busier", "stack", "layer up",
        "more layers", "more stuff", "dicht", "dichter", "voller", "denso", "lleno", "relleno", "mas capas",
    ),
    "sparser": (
        "sparse", "sparser", "minimal", "fewer", "thin", "thinner", "strip back", "reduce", "stripped", "space",
        "spacious", "less is more", "reduziert", "reduzierter", "sparsam", "minimalistisch", "weniger spuren",
        "escaso", "minimalista", "menos capas",
    ),
    "energy_up": (
        "energy", "harder", "hard", "intense", "intensity", "push", "pump", "louder", "peak", "peak-time",
        "banger", "banging", "lift", "hype", "relentless", "lets go", "energie", "druck", "harter", "lauter",
        "energia", "cana", "fuerte", "potente", "loud",
    ),
    "energy_down": (
        "calm", "calmer", "chill", "softer", "relax", "cool down", "quieter", "gentle", "mellow", "breathe", "ease",
        "ruhig", "ruhiger", "sanft", "leiser", "entspannt", "tranquilo", "calma", "suave", "relaja",
    ),
    "tension": (
        "tension", "tense", "build", "build-up", "buildup", "riser", "suspense", "wait for it", "tease", "wind up",
        "anticipation", "spannung", "aufbauen", "steigern", "tension", "construye", "suspenso", "crescendo",
    ),
    "drop": (
        "drop", "release", "slam", "full power", "everything in", "everything back", "all in", "unleash", "send it",
        "let it go", "let it all go", "wieder rein", "alles rein", "suelta", "que entre todo", "soltar", "explota",
    ),
    "breakdown": (
        "breakdown", "break down", "break", "strip down", "strip it down", "pause", "pad only", "runterbrechen",
        "pausa", "paron", "kick out", "without the kick",
    ),
    "hypnotic": (
        "hypnotic", "hypnotise", "hypnotize", "trance", "trancey", "repetitive", "repetition", "repeat", "loop",
        "rolling", "roll", "lock in", "stay there", "steady", "monotone", "hypnotisch", "hypnotischer",
        "wiederholung", "monoton", "hipnotico", "repetitivo", "bucle",
    ),
    "vary": (
        "vary", "variation", "change", "switch", "different", "fresh", "something new", "boring", "stale",
        "surprise", "mix it up", "abwechslung", "anders", "wechsel", "variacion", "cambia", "cambio", "distinto",
        "nuevo", "ever-changing", "playful",
    ),
    "faster": (
        "faster", "speed up", "quicker", "quick", "schneller", "rapido", "acelera", "hurry",
    ),
    "slower": (
        "slower", "slow", "slow down", "pump the brakes", "brakes", "langsamer", "langsam", "lento", "despacio",
        "frena",
    ),
    "bring_in": (),
    "mute": (),
}  # fmt: skip
"""Words (accents stripped, lower case) that point at each intent; one cue of several words must appear whole."""

OPPOSITE: dict[IntentKind, IntentKind] = {
    "darker": "brighter",
    "brighter": "darker",
    "denser": "sparser",
    "sparser": "denser",
    "energy_up": "energy_down",
    "energy_down": "energy_up",
    "tension": "energy_down",
    "faster": "slower",
    "slower": "faster",
    "hypnotic": "vary",
    "vary": "hypnotic",
}
"""What "less X", "too X" or "no X" asks for instead of X."""

NEGATORS = frozenset({"less", "no", "not", "too", "fewer", "weniger", "kein", "keine", "nicht", "zu", "menos", "sin"})
"""Words that turn the cue after them into its opposite ("less energy", "too busy", "weniger Energie")."""
NEGATED_ONLY = frozenset({"busy", "empty", "fast", "slow", "loud", "quiet", "dark", "bright"})
"""Adjectives that mean their opposite after "too" (too busy → sparser); on their own they count as below."""
PLAIN_TOO: dict[str, IntentKind] = {
    "busy": "denser",
    "empty": "sparser",
    "fast": "faster",
    "slow": "slower",
    "loud": "energy_up",
    "quiet": "energy_down",
    "dark": "darker",
    "bright": "brighter",
}

SCALES: dict[str, tuple[IntentKind, IntentKind]] = {
    "tempo": ("faster", "slower"),
    "bpm": ("faster", "slower"),
    "speed": ("faster", "slower"),
    "energy": ("energy_up", "energy_down"),
    "energie": ("energy_up", "energy_down"),
    "energia": ("energy_up", "energy_down"),
    "intensity": ("energy_up", "energy_down"),
    "it": ("energy_up", "energy_down"),
    "notch": ("energy_up", "energy_down"),
    "layers": ("denser", "sparser"),
    "spuren": ("denser", "sparser"),
    "capas": ("denser", "sparser"),
}
"""Nouns that an "up" or "down" word gives a direction: "tempo hoch" → faster, "bring the intensity down"."""
UP_WORDS = frozenset({"up", "hoch", "rauf", "sube", "subir", "more", "mehr", "mas", "raise", "higher", "crank"})
DOWN_WORDS = frozenset({"down", "runter", "baja", "bajar", "less", "weniger", "menos", "lower", "reduce"})

ROLE_WORDS: dict[str, str] = {
    **steering.ROLE_WORDS,
    "bassdrum": "kick",
    "bombo": "kick",
    "hi": "hihat",
    "platillos": "hihat",
    "charles": "hihat",
    "becken": "hihat",
    "bajo": "bassline",
    "palmas": "clap",
    "klatschen": "clap",
    "caja": "snare",
    "percs": "perc",
    "percusion": "perc",
    "sintetizador": "synth",
}
"""How people name layers, in three languages, → the mixer's roles."""
IN_WORDS = frozenset(
    {"in", "add", "bring", "back", "need", "want", "give", "gimme", "hear", "put", "rein", "dazu", "herein", "mete",
     "anade", "pon", "entra", "mas", "mehr", "more"}
)  # fmt: skip
OUT_WORDS = frozenset(
    {"out", "off", "mute", "kill", "cut", "lose", "no", "without", "stop", "remove", "ditch", "raus", "ohne", "weg",
     "aus", "quita", "sin", "fuera", "saca", "anymore"}
)  # fmt: skip

WEIGHT_PHRASE = 1.5
"""A cue of several words says more than one word."""
WEIGHT_FUZZY = 0.7
"""A word that is only close to a cue (a misspelling) counts less than the cue itself."""


def normalize(text: str) -> str:
    """Lower case, accents stripped, punctuation to spaces: "más energía" → "mas energia"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).replace("ß", "ss")
    return " ".join(re.findall(r"[a-z0-9][a-z0-9'-]*", plain)).replace("'", "")


EVERYDAY = frozenset(
    {"hello", "later", "late", "latter", "these", "since", "some", "show", "child", "state", "stage", "style",
     "scale", "sale", "save", "saved", "think", "thing", "things", "phase", "chance", "charge", "quite", "heard",
     "hate", "sense", "came", "unless", "ticket", "teams", "intend", "intent"}
)  # fmt: skip
SPELLED_RIGHT = EVERYDAY | NEGATORS | UP_WORDS | DOWN_WORDS | IN_WORDS | OUT_WORDS | set(SCALES) | set(ROLE_WORDS)
"""Words of their own, never misspellings of a cue they are close to: the vocabulary's other words and everyday
ones (before, "hello" read as "hell", German for bright; "see you later" as "lauter", louder; "bring it on" as
"brooding" and "boring")."""


def _close(word: str, cue: str) -> bool:
    """A misspelling of ``cue``: one or two letters off or two swapped, for words long enough to tell."""
    if len(word) < 4 or len(cue) < 4 or word[0] != cue[0] or word in SPELLED_RIGHT:
        return False
    if len(word) == len(cue) and sorted(word) == sorted(cue):
        return True
    return difflib.SequenceMatcher(None, word, cue).ratio() >= (0.8 if len(cue) <= 6 else 0.75)


def _find(word: str, table: dict[str, str] | frozenset[str]) -> str | None:
    """``word`` as it is in ``table``, or the entry it misspells."""
    if word in table:
        return word
    return next((entry for entry in table if _close(word, entry)), None)


def _match(word: str, cue: str) -> float:
    """How well one word matches a one-word cue: 1 the cue itself (or a longer form of it), a misspelling less."""
    if word == cue or (len(cue) >= 5 and word.startswith(cue)):
        return 1.0
    return WEIGHT_FUZZY if _close(word, cue) else 0.0


ALL_CUES = frozenset(cue for cues in CUES.values() for cue in cues)


def _is_cue(word: str) -> bool:
    return word in ALL_CUES or any(_close(word, cue) for cue in ALL_CUES if " " not in cue)


def lexical(text: str) -> Reading:
    """The intents the words point at, by cue words: each kind's share of the evidence as its probability."""
    norm = normalize(text)
    words = norm.split()
    scores: dict[tuple[IntentKind, str], float] = {}

    def add(kind: IntentKind, weight: float, role: str = "") -> None:
        scores[(kind, role)] = scores.get((kind, role), 0.0) + weight

    used: set[int] = set()
    for role_at, word in enumerate(words):
        name = word if word in ROLE_WORDS else None if _is_cue(word) else _find(word, ROLE_WORDS)
        if name is None or (name == "hi" and words[role_at + 1 : role_at + 2] != ["hats"]):
            continue
        role = ROLE_WORDS[name]
        near = {_find(w, OUT_WORDS) or _find(w, IN_WORDS) or w for w in words[max(0, role_at - 3) : role_at + 4]}
        if near & OUT_WORDS:
            add("mute", 2.0, role)
        elif near & IN_WORDS:
            add("bring_in", 2.0, role)
        used.add(role_at)
    exact = {w for w in words if any(_match(w, cue) == 1.0 for cue in ALL_CUES if " " not in cue)}
    for kind, cues in CUES.items():
        for cue in (c for c in cues if " " in c):
            if re.search(rf"\b{re.escape(cue)}\b", norm):
                add(kind, WEIGHT_PHRASE)
        single = [c for c in cues if " " not in c]
        for index, word in enumerate(words):
            weight = 0.0 if index in used else max((_match(word, cue) for cue in single), default=0.0)
            if weight < 1.0 and word in exact:  # a cue of another intent, not a misspelling of this one's
                weight = 0.0
            if weight:
                negated = index > 0 and words[index - 1] in NEGATORS
                add(OPPOSITE.get(kind, kind) if negated and kind in OPPOSITE else kind, weight)
    for index, word in enumerate(words):
        if word in NEGATED_ONLY:
            too = index > 0 and words[index - 1] in NEGATORS
            kind = PLAIN_TOO[word]
            add(OPPOSITE.get(kind, kind) if too else kind, 1.0)
        noun = _find(word, frozenset(SCALES)) if len(word) > 2 else word if word in SCALES else None
        if noun is not None:
            window = set(words[max(0, index - 4) : index + 4]) - {word}
            up, down = SCALES[noun]
            weight = 0.5 if noun == "it" else 1.5
            if window & UP_WORDS and not window & DOWN_WORDS:
                add(up, weight)
            elif window & DOWN_WORDS and not window & UP_WORDS:
                add(down, weight)
    scores = {key: value for key, value in scores.items() if value > 0}
    total = sum(scores.values())
    ranked = sorted(scores.items(), key=lambda item: (-item[1], KINDS.index(item[0][0]), item[0][1]))
    intents = tuple(Intent(kind, round(score / total, 4), role) for (kind, role), score in ranked)
    return Reading(text, _one_role_each(intents), "lexical")


def _one_role_each(intents: tuple[Intent, ...]) -> tuple[Intent, ...]:
    """``bring_in`` and ``mute`` keep their most likely role only (their probability is the kind's)."""
    out: list[Intent] = []
    for intent in intents:
        same = next((i for i, o in enumerate(out) if o.kind == intent.kind), None)
        if same is None:
            out.append(intent)
        else:
            out[same] = msgspec.structs.replace(out[same], p=round(out[same].p + intent.p, 4))
    return tuple(sorted(out, key=lambda i: -i.p))


KEYWORD_KINDS: dict[str, IntentKind | None] = {
    "darker": "darker",
    "brighter": "brighter",
    "energy_up": "energy_up",
    "energy_down": "energy_down",
    "breakdown": "breakdown",
    "drop": "drop",
    "mute": "mute",
    "bring_in": "bring_in",
    "vary": "vary",
    "unknown": None,
}


def keywords(text: str) -> Reading:
    """The baseline: the older single keyword rule (``steering.intent_of``), as a reading with one intent."""
    old = steering.intent_of(text)
    kind = KEYWORD_KINDS[old.kind]
    return Reading(text, () if kind is None else (Intent(kind, 1.0, old.role),), "keywords")


def weighted(reading: Reading, probabilities: dict[str, float], method: str = "lm") -> Reading:
    """``reading`` with its intents' probabilities replaced by ``probabilities`` (by kind; roles kept), most
    likely first; kinds the reading did not propose come in without a role."""
    roles = {i.kind: i.role for i in reading.intents}
    total = sum(probabilities.values()) or 1.0
    intents = [
        Intent(kind, round(p / total, 4), roles.get(kind, ""))  # type: ignore[arg-type]
        for kind, p in probabilities.items()
        if kind in KINDS and p > 0
    ]
    intents.sort(key=lambda i: (-i.p, KINDS.index(i.kind)))
    return Reading(reading.text, tuple(intents), method)
