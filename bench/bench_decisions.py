"""Does the phrase brain's LM choose the moves a techno DJ would accept? Agreement on hand-written situations.

Each situation (``decision_situations.py``) is shown exactly as the phrase brain shows a moment (``decision.py``,
``choice``), its menu in a seeded shuffled order (so no position means "best"). Brains: always the same position
(the first, and the best single position in hindsight), a uniform random pick (its expected agreement), plain code
(the menu's own scoring, what the autopilot-style ranking picks), and the LM four ways: greedy on the menu as
shown (no calibration, one order), its orders averaged, calibrated on one order, and calibrated on both (the phrase
brain's choice at temperature 0). With ``--lm cloze`` (or ``both``), no labels at all: each move's effects in
words ("make it more energy, fuller") scored as the continuation of "The next phrase should" after the moment,
calibrated by the same words after a blank moment (PMI, ``choice.cloze``; the effects, not the move's name, because
on the tuning situations the names scored below the uniform pick); and the same among the code's best three
moves, beside a uniform pick among those three (what the shortlist alone is worth). "Flips" is how often the choice
changes. With ``--lm icl``, the cloze under a fixed prefix of 12 tuning situations (seeded) each with a move the DJ
accepted there: each move's effects, or the move as the menu says it, against the same after a blank moment (PMI);
the tuning figures include the 12 shown. With ``--lm channel`` (Min et al. 2022), each move's lead-in ("The next
phrase made this move: ...") and the moment scored as what follows: the move that best explains the moment.
The held-out third was kept out of every prompt and tuning step and is
reported on its own.

    .venv/bin/python bench/bench_decisions.py [--scenario SCENARIO] [--no-lm] [--limit N] [--cache FILE]
        [--lm labels|cloze|both|icl|channel]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import msgspec
import trio
from decision_situations import BRIEFS, OTHER_BRIEF, SITUATIONS, Situation

from bergain_actors import choice
from bergain_actors.actors.conductor import decision as dec
from bergain_actors.actors.conductor import menu
from bergain_actors.actors.conductor.brief import tone
from bergain_actors.core import events as ev
from bergain_actors.core import scenario as scenarios
from bergain_actors.music.steering import intent_of
from bergain_actors.service.session import router_session

STEER_KINDS = {"mute": "less_dense", "bring_in": "more_dense", "breakdown": "energy_down", "drop": "energy_up"}
Pick = Callable[[Situation, str, list[menu.Option]], int]


def option(label: str, energy: float, now: float) -> menu.Option:
    """The menu option a label names (the words ``menu.build`` gives it), with what it answers."""
    words = label.split()
    if words[0] == "add":
        move, role = "add", words[1]
    elif words[0] == "take":
        move, role = "remove", words[1]
    elif words[0] == "another":
        move, role = "swap", words[1]
    elif words[1] == "plays":
        move, role = "pattern", words[0]
    else:
        move, role = "fader", words[0]
    bare = menu.Option(move, role, {}, label, energy)
    return menu.Option(move, role, {}, label, energy, menu._answers(bare, energy - now))


def shown(s: Situation) -> list[menu.Option]:
    """The menu in the order the LM sees it: shuffled with the situation's own seed."""
    options = [option(label, energy, s.energy) for label, energy in s.menu]
    random.Random(s.index).shuffle(options)
    return options


def directives(s: Situation) -> tuple[str, ...]:
    kinds = [s.critic] if s.critic else []
    if s.steer:
        intent = intent_of(s.steer)
        kinds.append(STEER_KINDS.get(intent.kind, intent.kind))
    return tuple(kinds)


def code_scores(s: Situation, brief: str, options: list[menu.Option]) -> list[float]:
    moment = menu.Moment(bar=64, phase=s.phase, target=s.target, cap=8, total=256, directives=directives(s))
    rand = random.Random(s.index)
    return [menu._score(o, s.energy, moment, tone(brief), rand) for o in options]


def shortlist(s: Situation, brief: str, options: list[menu.Option], size: int) -> list[int]:
    """The code's ``size`` best moves (positions in ``options``), best first."""
    scores = code_scores(s, brief, options)
    return sorted(range(len(options)), key=lambda i: -scores[i])[:size]


def plain_code(s: Situation, brief: str, options: list[menu.Option]) -> int:
    return shortlist(s, brief, options, 1)[0]


def ballot(s: Situation, brief: str, options: Sequence[menu.Option], calibrate: bool = True) -> choice.Ballot:
    """The ballot the phrase brain would put for this moment (``PhraseBrain.ask``)."""
    text = dec.context(
        brief=brief,
        bar=64,
        total=256,
        phase=s.phase,
        target=s.target,
        energy=s.energy,
        mixer=s.mixer,
        directives=[s.critic.replace("_", " ")] if s.critic else [],
        said=[s.steer] if s.steer else [],
    )
    options = [dec.describe(o) for o in options]
    rng = random.Random(s.index)
    return choice.ballot(options, system=dec.SYSTEM, context=text, question=dec.QUESTION, rng=rng, calibrate=calibrate)


def effects(o: menu.Option) -> str:
    """What a move does, in the words of ``dec.EFFECTS``."""
    return ", ".join(dec.EFFECTS[k] for k in o.answers if k in dec.EFFECTS) or "no change"


CLOZE_ANSWER = "The next phrase should"
SHORTLIST = 3
"""How many of the code's best moves the LM chooses among in the shortlist rows (fixed before any LM answer)."""


def cloze(s: Situation, brief: str, options: Sequence[menu.Option]) -> choice.cloze.Cloze:
    """The moment as the phrase brain shows it, each move as what it does to the music (``dec.EFFECTS``)."""
    b = ballot(s, brief, options, calibrate=False)
    texts = [f" make it {effects(o)}" for o in options]
    return choice.cloze.cloze(
        b.options, texts, system=b.system, context=b.context, question=b.question, answer=CLOZE_ANSWER
    )


ICL = ("in-context cloze, effects", "in-context cloze, moves")
SHOTS = 12
"""Tuning situations shown, with a move the DJ accepted, in the in-context prefix (``--lm icl``)."""
BLANK = "Brief: ...\nNext phrase: ...\nPlaying: ..."


def examples() -> list[tuple[Situation, menu.Option]]:
    """``SHOTS`` tuning situations (seeded choice; never a held-out one), each with the first accepted move as
    shown."""
    rng = random.Random(18)
    chosen = rng.sample([s for s in SITUATIONS if not s.held_out], SHOTS)
    return [(s, next(o for o in shown(s) if o.label in s.accepted)) for s in chosen]


def in_context(s: Situation, brief: str, options: Sequence[menu.Option], moves: bool) -> choice.cloze.Cloze:
    """The cloze of ``cloze`` under a fixed prefix of tuning situations and an accepted move: each move's effects
    (or, ``moves``, the move and its effects as the menu shows it) after "The next phrase should make it" (or
    "Move:"), against the same after a blank moment (PMI)."""
    answer = "Move:" if moves else "The next phrase should make it"

    def said(o: menu.Option) -> str:
        return f" {dec.describe(o)}" if moves else f" {effects(o)}"

    demo = "\n\n".join(f"{ballot(e, e.brief, shown(e)).context}\n{answer}{said(o)}" for e, o in examples())
    head = "the move the DJ made" if moves else "what the next phrase did"
    return choice.cloze.cloze(
        [o.label for o in options],
        [said(o) for o in options],
        system=f"{dec.SYSTEM} Moments of past sets and {head}:\n\n{demo}",
        context=ballot(s, brief, options, calibrate=False).context,
        question="",
        answer=answer,
        premise=BLANK,
    )


def channel(s: Situation, brief: str, options: Sequence[menu.Option]) -> ev.LMRequest:
    """The noisy channel (``--lm channel``): the moment scored as the words after each move (how well each move
    explains the moment); a neutral lead-in would shift every move's score alike, so none is asked."""
    lists = [
        (
            {"role": "system", "content": dec.SYSTEM},
            {"role": "user", "content": f"The next phrase made this move: {dec.describe(o)}. What was the moment?"},
            {"role": "assistant", "content": "The moment:"},
        )
        for o in options
    ]
    moment = ballot(s, brief, options, calibrate=False).context
    return ev.LMRequest(
        request_id="bench",
        purpose="bench",
        messages=lists[0],
        variants=tuple(lists[1:]),
        continuations=(f" {moment}",),
        max_tokens=1,
        temperature=0.0,
        best_effort=True,
    )


class LMAnswers:
    """Every situation's ballot scored once per brief, through the scenario's router (as the brain's are). The
    content-free prior is measured on the first ballot and kept, as the brain keeps it per menu size. Scores are
    kept in ``cache`` (keyed by the prompts), so an interrupted run resumes where it stopped."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.stored: dict[str, list[dict[str, float]]] = json.loads(cache.read_text()) if cache.is_file() else {}
        self.answers: dict[tuple[int, str], tuple[choice.Ballot, ev.LMResponse]] = {}
        self.clozes: dict[tuple[int, str], tuple[choice.cloze.Cloze, ev.LMResponse]] = {}
        self.channels: dict[tuple[int, str], list[float]] = {}
        self.prior: tuple[float, ...] = ()
        self.seconds: list[float] = []

    async def collect(self, scenario: scenarios.Scenario, situations: Sequence[Situation], ways: str) -> None:
        async with router_session(scenario) as session:
            for how in ICL if ways == "icl" else ("",):  # one in-context prefix at a time: the server keeps it
                for n, s in enumerate(situations):
                    for brief in (s.brief, BRIEFS[OTHER_BRIEF[_key(s.brief)]]):
                        if how:
                            await self.collect_cloze(session, s, brief, how)
                            continue
                        if ways == "channel":
                            await self.collect_channel(session, s, brief)
                            continue
                        if ways != "labels":
                            await self.collect_cloze(session, s, brief)
                        if ways == "cloze":
                            continue
                        b = ballot(s, brief, shown(s), calibrate=not self.prior)
                        key = json.dumps(choice.prompts(b))
                        if key not in self.stored:
                            started = time.perf_counter()
                            got = await choice.ask(session, b, purpose="bench", timeout=600.0)
                            self.seconds.append(time.perf_counter() - started)
                            if isinstance(got, ev.LMFailed):
                                raise SystemExit(f"the LM failed: {got.reason} ({'; '.join(got.attempts)})")
                            self.stored[key] = list(got[1].scores)
                            self.cache.write_text(json.dumps(self.stored))
                        scores = tuple(self.stored[key])
                        answer = ev.LMResponse(request_id="bench", provider="lm", text="", scores=scores)
                        self.prior = self.prior or choice.prior_of(b, answer)
                        self.answers[s.index, brief] = (b, answer)
                    print(f"\r{n + 1}/{len(situations)} situations scored", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)

    async def collect_cloze(self, session, s: Situation, brief: str, how: str = "cloze") -> None:
        c = cloze(s, brief, shown(s)) if how == "cloze" else in_context(s, brief, shown(s), how.endswith("moves"))
        key = json.dumps([choice.cloze.prompts(c), c.texts])
        sent = choice.cloze.request(c, request_id="bench", purpose="bench", best_effort=True)
        answer = ev.LMResponse(request_id="bench", provider="lm", text="", scores=await self.fetch(session, key, sent))
        self.clozes[s.index, brief, how] = (c, answer)

    async def collect_channel(self, session, s: Situation, brief: str) -> None:
        sent = channel(s, brief, shown(s))
        key = json.dumps([[sent.messages, *sent.variants], sent.continuations])
        moment = sent.continuations[0]
        self.channels[s.index, brief] = [scores[moment] for scores in await self.fetch(session, key, sent)]

    async def fetch(self, session, key: str, sent: ev.LMRequest) -> tuple[dict[str, float], ...]:
        """The scores of ``sent``: kept under ``key``, else asked and kept."""
        if key not in self.stored:
            got = await session.send(sent, timeout=600.0)
            if isinstance(got, ev.LMFailed):
                raise SystemExit(f"the LM failed: {got.reason} ({'; '.join(got.attempts)})")
            self.stored[key] = list(got.scores)
            self.cache.write_text(json.dumps(self.stored))
        return tuple(self.stored[key])

    def picker(self, how: str) -> Pick:
        def pick(s: Situation, brief: str, options: list[menu.Option]) -> int:
            if how == "channel":
                explained = self.channels[s.index, brief]
                return max(range(len(options)), key=lambda i: explained[i])
            if how in ICL:
                c, answer = self.clozes[s.index, brief, how]
                return choice.cloze.decide(c, answer, 0.0, random.Random(0)).index
            if how.startswith("cloze"):  # "cloze" or "cloze among the code's top N"
                c, answer = self.clozes[s.index, brief, "cloze"]
                among = shortlist(s, brief, options, int(how.split()[-1])) if how != "cloze" else range(len(options))
                calibrated = choice.cloze.decide(c, answer, 0.0, random.Random(0)).calibrated
                return max(among, key=lambda i: calibrated[i])
            b, answer = self.answers[s.index, brief]
            if how == "calibrated":
                return choice.decide(b, answer, 0.0, random.Random(0), self.prior).index
            if how == "calibrated, one order":  # half the prompts: what ``ballot_orders = 1`` would choose
                first = msgspec.structs.replace(b, orders=b.orders[:1], calibrate=False)
                return choice.decide(first, answer, 0.0, random.Random(0), self.prior).index
            if how == "orders":
                found = choice.distributions(msgspec.structs.replace(b, calibrate=False), answer.scores)
            else:  # greedy: the menu as shown, one order, no calibration
                first = msgspec.structs.replace(b, orders=b.orders[:1], calibrate=False)
                found = choice.distributions(first, answer.scores[:1])
            assert found is not None, "the provider gave no probabilities"
            raw = found[0]
            return max(range(len(raw)), key=lambda i: raw[i])

        return pick


def _key(brief: str) -> str:
    return next(k for k, v in BRIEFS.items() if v == brief)


def agreement(pick: Pick, situations: Sequence[Situation]) -> tuple[float, float]:
    """(share of situations where the pick is accepted, share where a brief change alone changes the pick)."""
    hits = flips = 0
    for s in situations:
        options = shown(s)
        chosen = pick(s, s.brief, options)
        hits += options[chosen].label in s.accepted
        flips += pick(s, BRIEFS[OTHER_BRIEF[_key(s.brief)]], options) != chosen
    return hits / len(situations), flips / len(situations)


def constant(position: int) -> Pick:
    return lambda s, brief, options: min(position, len(options) - 1)


def uniform(situations: Sequence[Situation], size: int = 0) -> float:
    """The expected agreement of a uniform pick among the menu (``size``: among the code's best ``size``)."""
    total = 0.0
    for s in situations:
        options = shown(s)
        among = shortlist(s, s.brief, options, size) if size else range(len(options))
        total += sum(options[i].label in s.accepted for i in among) / len(among)
    return total / len(situations)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default=str(scenarios.DEFAULT_SCENARIO), help="whose LM providers to ask")
    parser.add_argument("--no-lm", action="store_true", help="only the baselines and plain code")
    ways = ("labels", "cloze", "both", "icl", "channel")
    parser.add_argument("--lm", choices=ways, default="labels", help="which LM ways to ask")
    parser.add_argument("--limit", type=int, default=0, help="only the first N situations")
    parser.add_argument("--cache", default="/tmp/bench_decisions_scores.json", help="scores kept between runs")
    args = parser.parse_args()
    situations = SITUATIONS[: args.limit] if args.limit else SITUATIONS
    splits = {
        "tuning": [s for s in situations if not s.held_out],
        "held out": [s for s in situations if s.held_out],
        "all": list(situations),
    }
    brains: list[tuple[str, Pick | None]] = [("always position 1", constant(0))]
    best = max(range(6), key=lambda k: agreement(constant(k), splits["tuning"])[0])
    brains.append((f"always position {best + 1} (best on tuning)", constant(best)))
    brains.append(("uniform random (expected)", None))
    brains.append(("plain code (menu scoring)", plain_code))
    if args.lm in ("cloze", "both"):
        brains.append((f"uniform among the code's top {SHORTLIST}", None))
    lm = LMAnswers(Path(args.cache))
    if not args.no_lm:
        scenario = scenarios.load(args.scenario)[0]
        patient = [msgspec.structs.replace(p, timeout_s=max(p.timeout_s, 600.0)) for p in scenario.router.providers]
        scenario = scenarios.replace(scenario, router=msgspec.structs.replace(scenario.router, providers=patient))
        trio.run(lm.collect, scenario, situations, args.lm)
        labels = ("greedy", "orders", "calibrated, one order", "calibrated") if args.lm in ("labels", "both") else ()
        clozes = ("cloze", f"cloze among the code's top {SHORTLIST}") if args.lm in ("cloze", "both") else ()
        hows = (*labels, *clozes, *(ICL if args.lm == "icl" else ()), *(("channel",) if args.lm == "channel" else ()))
        brains += [(f"LM {how}", lm.picker(how)) for how in hows]
    print(f"{len(situations)} situations ({len(splits['held out'])} held out), menus of 6, shuffled per situation")
    header = f"{'brain':38}" + "".join(f"{name:>22}" for name in splits)
    print(header + "\n" + "-" * len(header))
    for name, pick in brains:
        cells = []
        for group in splits.values():
            if pick is None:
                cells.append(f"{uniform(group, SHORTLIST if 'top' in name else 0) * 100:6.1f} %{'':>13}")
                continue
            agreed, flipped = agreement(pick, group)
            cells.append(f"{agreed * 100:6.1f} %  (flips {flipped * 100:3.0f} %)")
        print(f"{name:38}" + "".join(f"{c:>22}" for c in cells))
    if lm.seconds:
        seconds = sorted(lm.seconds)
        print(
            f"LM: {len(seconds)} ballots of 3 one-token prompts, median {seconds[len(seconds) // 2]:.2f} s, "
            f"p95 {seconds[int(0.95 * (len(seconds) - 1))]:.2f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
