"""Words → intents: how often each way of reading a performer's words gets the intent right (issue 18.3).

    .venv/bin/python bench/bench_intents.py [--no-lm] [--verbose] [--lm WAYS] [--every N] [--cache FILE]

189 phrases written for this project (``intent_phrases.py``: plain, paraphrased, slang, misspelt, German, Spanish,
briefs), each labelled. Every third phrase is held out of every prompt, keyword list and tuning step and reported on
its own. Ways compared, the top intent against the labels:

- constant: always the most common label of the tuning phrases; random: a seeded uniform pick of the 15 intents;
- keywords: the older single keyword rule (``steering.intent_of``), the baseline;
- code: ``intents.lexical`` (cue words in three languages, misspellings, negation, up/down);
- LM greedy: the embedded model shown all 15 intents once, its most likely label (no calibration);
- LM calibrated: the same 15 in two orders and a content-free prompt, calibrated (``bergain_actors.choice``);
- LM+code: the LM's calibrated choice among the candidates the code proposes, times the code's probabilities
  (``music/reading.py``: what the set and ``bergain-actors intent`` use);
- LM cloze: no labels: each intent's own words (``reading.CLOZE``) scored as the answer's continuation after the
  phrase, calibrated by the same words after a blank phrase (PMI, ``choice.cloze``); "raw" without that premise;
  cloze+code: the cloze's PMI among the code's candidates times the code's probabilities (the same scores).

- LM in-context cloze (``--lm icl``): the same cloze under a fixed prefix of 45 labelled tuning phrases (3 an
  intent, ``intent_channel.py``);
- LM channel (``--lm channel``; Min et al. 2022): how well each intent explains the words, log P(phrase | a lead-in
  naming the intent) − log P(phrase | a neutral lead-in); lead-ins: the intent's words, "+examples" with 4 tuning
  phrases of the intent, "+cues" with the code's cue words (``intents.CUES``, written from the tuning phrases), both;
  a ``bring_in``/``mute`` reading gets its role the same way (the phrase after "the ROLE in/out").

``--lm labels|cloze|both|icl|channel`` chooses which LM ways are asked (cloze only: about a third of the time).
The column "tuning not in a prompt" leaves out the tuning phrases a way's prompts show; the held-out third is
the honest figure. The embedded server runs with ``n_ctx = 4096`` here (the in-context prefix).

Target: LM calibrated (or the combination the set uses) ≥ 80 % and ≥ keywords + 15 points.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections import Counter
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import intent_channel as channel
import msgspec
import structlog
import trio
from intent_phrases import PHRASES, held_out
from rich.console import Console
from rich.table import Table

from bergain_actors import choice
from bergain_actors.core import events as ev
from bergain_actors.core import scenario as scenarios
from bergain_actors.music import reading
from bergain_actors.music.intents import KINDS, Intent, IntentKind, Reading, keywords, label, lexical
from bergain_actors.service.session import router_session

Row = tuple[str, tuple[str, ...], str]
CHANNELS = {
    "LM channel": (False, 0),
    "LM channel+examples": (False, channel.CHANNEL_SHOTS),
    "LM channel+cues": (True, 0),
    "LM channel+cues+examples": (True, channel.CHANNEL_SHOTS),
}
"""The noisy channel's lead-ins: (with the code's cue words, tuning phrases per intent)."""
SHOWN = {"LM in-context cloze": channel.ICL_SHOTS, "LM in-context cloze raw": channel.ICL_SHOTS} | {
    way: shots for way, (_, shots) in CHANNELS.items() if shots
}
"""Ways whose prompts show tuning phrases, and how many per intent (those phrases are not counted in the column
"tuning not in a prompt")."""


def correct(got: Reading, labels: tuple[str, ...]) -> bool:
    top = got.top
    if top is None:
        return False
    return any(want == label(top.kind, top.role) or (":" not in want and want == top.kind) for want in labels)


def top_kind(got: Reading) -> str:
    return got.top.kind if got.top else "-"


def cloze_readings(text: str, answer: ev.LMResponse, out: dict[str, list[Reading]]) -> None:
    """The cloze ways' readings of one phrase, from one answer scoring every intent's words."""
    whole = choice.cloze.decide(reading.cloze(text), answer, 0.0, random.Random(0))
    raw = max(range(len(KINDS)), key=lambda i: whole.raw[i])
    out["LM cloze raw"].append(Reading(text, (Intent(KINDS[raw], 1.0),), "lm"))
    out["LM cloze"].append(Reading(text, (Intent(KINDS[whole.index], 1.0),), "lm"))
    lex, kinds = reading.candidates(text)
    among = choice.cloze.decide(reading.cloze(text, kinds), answer, 0.0, random.Random(0)) if kinds else None
    out["cloze+code"].append(reading.combine(lex, kinds, among) if among else lex)


async def lm_readings(
    rows: list[Row], cache: Path | None, ways: str, channels: tuple[str, ...] = tuple(CHANNELS)
) -> dict[str, list[Reading]]:
    """Per LM way, the reading of every phrase (the embedded model, patient: a loaded machine is slow). With
    ``cache``, the model's answers are kept there (JSON lines) and a run picks up where one stopped."""
    scenario = scenarios.parse(
        '[router]\nproviders = [{ name = "local", kind = "local", timeout_s = 300.0, n_ctx = 4096 }]\n'
    )  # n_ctx: the in-context prefix (about 1,500 tokens) and the prompt after it
    labels, clozes = ways in ("labels", "both"), ways in ("cloze", "both")
    out: dict[str, list[Reading]] = {"LM greedy": [], "LM calibrated": [], "LM+code": []} if labels else {}
    if clozes:
        out |= {"LM cloze raw": [], "LM cloze": [], "cloze+code": []}
    if ways == "icl":
        out |= {"LM in-context cloze raw": [], "LM in-context cloze": []}
    if ways == "channel":
        out |= {way: [] for way in channels}
    kept: dict[str, list] = {}
    if cache is not None and cache.exists():
        kept = {d["key"]: d["scores"] for d in map(json.loads, cache.read_text().splitlines())}

    async def scored(session, b: choice.Ballot | choice.cloze.Cloze | ev.LMRequest, key: str) -> ev.LMResponse:
        if key in kept:
            return ev.LMResponse(request_id=key, provider="local", text="", scores=tuple(kept[key]))
        if isinstance(b, ev.LMRequest):
            sent = b
        else:
            ask = choice.cloze.request if isinstance(b, choice.cloze.Cloze) else choice.request
            sent = ask(b, request_id=key, purpose="intent", best_effort=True)
        asked = await session.send(sent, timeout=300)
        if isinstance(asked, ev.LMFailed):
            raise SystemExit(f"bench_intents: the embedded LM did not answer: {asked.reason}")
        if cache is not None:
            with cache.open("a") as file:
                file.write(json.dumps({"key": key, "scores": msgspec.to_builtins(asked.scores)}) + "\n")
        return asked

    async with router_session(scenario) as session:
        for index, (text, _, _) in enumerate(rows):
            if clozes:
                cloze_readings(text, await scored(session, reading.cloze(text), f"cloze:{text}"), out)
            if ways == "icl":
                c = channel.icl_cloze(text)
                whole = choice.cloze.decide(c, await scored(session, c, f"icl:{text}"), 0.0, random.Random(0))
                raw = max(range(len(KINDS)), key=lambda i: whole.raw[i])
                out["LM in-context cloze raw"].append(Reading(text, (Intent(KINDS[raw], 1.0),), "lm"))
                out["LM in-context cloze"].append(Reading(text, (Intent(KINDS[whole.index], 1.0),), "lm"))
            if ways == "channel":
                for way in channels:
                    cues, shots = CHANNELS[way]
                    leads = [channel.lead_in(kind, cues, shots) for kind in KINDS]
                    asked = await scored(session, channel.channel_request(text, leads, key := f"{way}:{text}"), key)
                    probs = channel.channel_distribution(text, asked.scores)
                    kind = KINDS[max(range(len(KINDS)), key=lambda i: probs[i])]
                    out[way].append(await channel_role(session, scored, way, text, kind))
            if index % 20 == 19:
                print(f"  {index + 1}/{len(rows)} phrases read", file=sys.stderr, flush=True)
            if not labels:
                continue
            everything = reading.ballot(text, KINDS, random.Random(index), abstain=False)
            answer = await scored(session, everything, f"all:{text}")
            picked = choice.decide(everything, answer, 0.0, random.Random(0))
            first = choice.distributions(choice.ballot(everything.options, system="", context="", question="",
                                                       rng=random.Random(0), orders=1, calibrate=False),
                                         answer.scores[:1])  # fmt: skip
            greedy = max(range(len(KINDS)), key=lambda i: first[0][i]) if first else picked.index
            out["LM greedy"].append(Reading(text, (Intent(KINDS[greedy], 1.0),), "lm"))
            out["LM calibrated"].append(Reading(text, (Intent(KINDS[picked.index], 1.0),), "lm"))
            lex, kinds = reading.candidates(text)
            if not kinds:
                out["LM+code"].append(lex)
                continue
            b = reading.ballot(text, kinds, random.Random(index))
            answer = await scored(session, b, f"candidates:{','.join(kinds)}:{text}")
            out["LM+code"].append(reading.combine(lex, kinds, choice.decide(b, answer, 0.0, random.Random(0))))
    return out


async def channel_role(session, scored, way: str, text: str, kind: IntentKind) -> Reading:
    """The channel's reading: ``kind``, and for ``bring_in``/``mute`` the role that best explains the words."""
    if kind not in ("bring_in", "mute"):
        return Reading(text, (Intent(kind, 1.0),), "lm")
    roles = sorted(channel.ROLES)
    leads = [channel.role_lead_in(kind, role) for role in roles]
    asked = await scored(session, channel.channel_request(text, leads, key := f"{way} role {kind}:{text}"), key)
    probs = channel.channel_distribution(text, asked.scores)
    return Reading(text, (Intent(kind, 1.0, roles[max(range(len(roles)), key=lambda i: probs[i])]),), "lm")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-lm", action="store_true", help="only the ways without an LM")
    parser.add_argument("--verbose", action="store_true", help="every phrase's readings")
    parser.add_argument("--cache", type=Path, help="keep the model's answers here (JSON lines) and reuse them")
    parser.add_argument("--every", type=int, default=1, help="only every N-th phrase (a loaded machine is slow)")
    parser.add_argument("--lm", choices=("labels", "cloze", "both", "icl", "channel"), default="both",
                        help="which LM ways to ask")  # fmt: skip
    parser.add_argument("--channel", action="append", choices=[w.removeprefix("LM ") for w in CHANNELS],
                        help="with --lm channel: only these lead-ins (repeat; default all)")  # fmt: skip
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    indices = [i for i in range(len(PHRASES)) if i % args.every == 0]
    rows = [PHRASES[i] for i in indices]
    tuning = [PHRASES[i] for i in indices if not held_out(i)]
    common = Counter(r[1][0].split(":")[0] for r in tuning).most_common(1)[0][0]
    rand = random.Random(18)
    ways: dict[str, list[Reading]] = {
        "constant": [Reading(t, (Intent(common, 1.0),)) for t, _, _ in rows],
        "random": [Reading(t, (Intent(rand.choice(KINDS), 1.0),)) for t, _, _ in rows],
        "keywords": [keywords(t) for t, _, _ in rows],
        "code": [lexical(t) for t, _, _ in rows],
    }
    if not args.no_lm:
        channels = tuple(f"LM {c}" for c in args.channel) if args.channel else tuple(CHANNELS)
        ways.update(trio.run(lm_readings, rows, args.cache, args.lm, channels))
    console = Console(width=170)
    title = f"words → intents: {len(rows)} of {len(PHRASES)} phrases, top intent right (target ≥ 80 %, ≥ keywords + 15)"
    table = Table(title=title)
    shown = {way: {t for ts in channel.tuning_examples(shots).values() for t in ts} for way, shots in SHOWN.items()}
    styles = sorted({r[2] for r in rows})
    for column in ("way", "tuning (2/3)", "tuning not in a prompt", "held out (1/3)", "all", *styles):
        table.add_column(column, justify="left" if column == "way" else "right")
    for way, got in ways.items():
        hits = [correct(g, r[1]) for g, r in zip(got, rows, strict=True)]

        def share(pick, hits=hits) -> str:
            chosen = [h for i, h in enumerate(hits) if pick(i)]
            return f"{100 * sum(chosen) / len(chosen):.1f} %" if chosen else "-"

        seen = shown.get(way, set())
        by_style = [share(lambda i, s=style: rows[i][2] == s) for style in styles]
        table.add_row(
            way,
            share(lambda i: not held_out(indices[i])),
            share(lambda i, seen=seen: not held_out(indices[i]) and rows[i][0] not in seen),
            share(lambda i: held_out(indices[i])),
            share(lambda i: True),
            *by_style,
        )
    console.print(table)
    for way in ("keywords", "LM calibrated", "LM+code", "LM cloze", "cloze+code", "LM in-context cloze", *CHANNELS):
        if way in ways:
            confusion(console, way, rows, ways[way])
    if args.verbose:
        for i, (text, labels, style) in enumerate(rows):
            cells = "  ".join(f"{w}={top_kind(g[i])}{'' if correct(g[i], labels) else '✗'}" for w, g in ways.items())
            console.print(f"{'H' if held_out(indices[i]) else ' '} {text!r} {labels[0]} ({style}): {cells}")


def confusion(console: Console, way: str, rows: list[Row], got: list[Reading]) -> None:
    """Main label (rows) against the top intent read (columns), all phrases."""
    table = Table(title=f"confusion, {way}: main label (rows) → intent read (columns); '-' nothing read")
    columns = [*KINDS, "-"]
    table.add_column("label")
    for kind in columns:
        table.add_column(kind[:6], justify="right")
    counts = Counter((r[1][0].split(":")[0], top_kind(g)) for r, g in zip(rows, got, strict=True))
    for kind in KINDS:
        table.add_row(kind, *[str(counts.get((kind, c), "")) for c in columns])
    console.print(table)


if __name__ == "__main__":
    main()
