"""Clips from words: does the clip honour what the prompt asked (bars, role, key, and the words about its sound)?

Thirty prompts written for this project, each labelled with the candidates a producer would accept. For each
picker (always the first candidate, a seeded random one, the prompt's keywords, the embedded LM greedy on one order,
the embedded LM calibrated over two orders and a content-free prompt, and what ``clip`` does: the words' shortlist,
then the calibrated LM among it), the table gives how often the clip honours
the words, and per clip its notes: share in key, distinct pitches, distinct onsets, and how many of its bars repeat an
earlier one. Every third prompt is held out: the candidates' words and sentences were not tuned on them, and they
are reported apart.

    .venv/bin/python bench/bench_clips.py [--no-lm] [--verbose]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trio
from rich.console import Console
from rich.table import Table

from bergain_actors import choice
from bergain_actors.core import events as ev
from bergain_actors.core import scenario as scenarios
from bergain_actors.music.clip import Clip, build_clip, parse_prompt
from bergain_actors.music.clip_candidates import Candidate, admissible, candidates, keyword_pick, shortlist
from bergain_actors.music.plan import TICKS_PER_BEAT
from bergain_actors.music.theory import set_theory
from bergain_actors.service.clips import clip_ballot
from bergain_actors.service.session import router_session

PROMPTS: tuple[tuple[str, str, int, str | None, frozenset[str]], ...] = tuple(
    (prompt, role, bars, key, frozenset(want.split()))
    for prompt, role, bars, key, want in (
        ("4-bar acid bassline in A minor", "bass", 4, "A minor", "acid"),
        ("2 bar rolling bass in E phrygian", "bass", 2, "E phrygian", "rolling"),
        ("deep sub bass, long notes, 8 bars in G minor", "bass", 8, "G minor", "sub"),
        ("a funky syncopated bassline in D dorian", "bass", 4, "D dorian", "syncopated"),
        ("melodic walking bassline in C major", "bass", 4, "C major", "melodic"),
        ("a screaming bassline that wobbles like a broken machine in F minor", "bass", 4, "F minor", "acid"),
        ("classic offbeat bassline in A minor", "bass", 4, "A minor", "offbeat"),
        ("un bajo ácido en re menor", "bass", 4, "D minor", "acid"),
        ("a bass that never stops moving, in B minor", "bass", 4, "B minor", "rolling"),
        ("2 bar chord stab progression in C major", "chords", 2, "C major", "four-offbeat two-dub"),
        ("warm held pads in F major, 4 bars", "chords", 4, "F major", "four-held"),
        ("dark brooding chords in E minor", "chords", 4, "E minor", "dark-held"),
        ("chords for the moment everyone raises their hands, in G major", "chords", 4, "G major", "epic-pump"),
        ("dub chords, deep and echoing, in C minor", "chords", 4, "C minor", "two-dub"),
        ("the same chord over and over", "chords", 4, None, "one-offbeat"),
        ("an arpeggio in A minor, 16ths", "stab", 4, "A minor", "arp"),
        ("classic rave stabs in D minor", "stab", 4, "D minor", "stabs"),
        ("deep dub stab in F minor", "stab", 4, "F minor", "dub"),
        ("a catchy hook lead in E minor", "stab", 4, "E minor", "hook"),
        ("call and response melody in G dorian", "stab", 4, "G dorian", "answer"),
        ("sparse minimal stabs", "stab", 4, None, "sparse"),
        ("drums", "drums", 4, None, "classic"),
        ("rolling busy drums with congas", "drums", 4, None, "rolling"),
        ("a drum groove with almost nothing in it", "drums", 4, None, "minimal"),
        ("peak-time drums with open hats and ride", "drums", 4, None, "peak"),
        ("drums for a concrete basement at 4am", "drums", 4, None, "warehouse"),
        ("hazme una batería de 8 compases", "drums", 8, None, "classic"),
        ("eerie dark drone in C# dorian", "texture", 4, "C# dorian", "drone"),
        ("a texture that keeps morphing", "texture", 4, None, "swell"),
        ("4 Takte warme Fläche in a-moll", "texture", 4, "A minor", "pad"),
    )
)
HELD_OUT = frozenset(range(2, len(PROMPTS), 3))
"""Every third prompt: not looked at while the candidates' words and sentences were written."""


def options_for(prompt: str) -> tuple[Candidate, ...]:
    request = parse_prompt(prompt)
    return admissible(candidates(request.role, set_theory(0, request.key), request.bars), prompt)


def notes_figures(clip: Clip) -> tuple[float, int, int, int]:
    """(share of pitched notes in key, distinct pitches, distinct onsets, bars that repeat an earlier bar)."""
    theory = set_theory(0, clip.key)
    pitched = [n for n in clip.notes if clip.role != "drums"]
    in_key = sum(theory.in_key(n.pitch) for n in pitched) / len(pitched) if pitched else 1.0
    bar = 4 * TICKS_PER_BEAT
    bars = [
        tuple((n.pitch, n.start - b * bar) for n in clip.notes if b * bar <= n.start < (b + 1) * bar)
        for b in range(clip.bars)
    ]
    repeats = sum(bars[i] in bars[:i] for i in range(1, len(bars)))
    return in_key, len({n.pitch for n in clip.notes}), len({n.start for n in clip.notes}), repeats


async def lm_picks(orders: int, calibrate: bool, words_first: bool = False) -> list[int]:
    """Per prompt, the LM's choice among all candidates, or with ``words_first`` among the words' shortlist (what
    ``clip`` does)."""
    # the embedded model, patient: on a loaded machine its boot and an answer may take minutes; this is about choices
    scenario = scenarios.parse('[router]\nproviders = [{ name = "local", kind = "local", timeout_s = 300.0 }]\n')
    picks = []
    async with router_session(scenario) as session:
        for prompt, *_ in PROMPTS:
            options = options_for(prompt)
            open_ = shortlist(options, parse_prompt(prompt).style) if words_first else tuple(range(len(options)))
            if len(open_) == 1:
                picks.append(open_[0])
                continue
            shown = tuple(options[i] for i in open_)
            asked = await choice.ask(
                session, clip_ballot(prompt, shown, orders=orders, calibrate=calibrate), purpose="clip", timeout=300
            )
            if isinstance(asked, ev.LMFailed):
                raise SystemExit(f"bench_clips: the embedded LM did not answer: {asked.reason}")
            picks.append(open_[asked[0].index])
    return picks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-lm", action="store_true", help="only the baselines without an LM")
    parser.add_argument("--verbose", action="store_true", help="each prompt's picks")
    args = parser.parse_args()
    picks: dict[str, list[int]] = {
        "constant": [0] * len(PROMPTS),
        "random": [random.Random(f"bench:{p}").randrange(len(options_for(p))) for p, *_ in PROMPTS],
        "keywords": [keyword_pick(options_for(p), parse_prompt(p).style) for p, *_ in PROMPTS],
    }
    if not args.no_lm:
        picks["LM greedy"] = trio.run(lm_picks, 1, False)
        picks["LM calibrated"] = trio.run(lm_picks, 2, True)
        picks["words, then LM (clip)"] = trio.run(lm_picks, 2, True, True)

    table = Table(title=f"clips from words: {len(PROMPTS)} prompts ({len(HELD_OUT)} held out), embedded LM")
    for column in (
        "picker",
        "words: all",
        "words: held out",
        "role/bars/key",
        "in key",
        "pitches",
        "onsets",
        "repeat bars",
    ):
        table.add_column(column, justify="left" if column == "picker" else "right")
    for name, chosen in picks.items():
        honoured, held, exact, figures = 0, 0, 0, []
        for i, ((prompt, role, bars, key, want), index) in enumerate(zip(PROMPTS, chosen, strict=True)):
            request = parse_prompt(prompt)
            options = options_for(prompt)
            clip = build_clip(request, set_theory(0, request.key), options[index])
            hit = options[index].name in want
            honoured += hit
            held += hit and i in HELD_OUT
            exact += (clip.role, clip.bars, request.key) == (role, bars, key) and all(
                n.start + n.duration <= bars * 4 * TICKS_PER_BEAT for n in clip.notes
            )
            figures.append(notes_figures(clip))
            if args.verbose:
                print(f"{name:14} {'✓' if hit else '✗'} {prompt!r} → {options[index].name}")
        table.add_row(
            name,
            f"{honoured / len(PROMPTS):.0%}",
            f"{held / len(HELD_OUT):.0%}",
            f"{exact / len(PROMPTS):.0%}",
            f"{statistics.mean(f[0] for f in figures):.0%}",
            f"{statistics.mean(f[1] for f in figures):.1f}",
            f"{statistics.mean(f[2] for f in figures):.1f}",
            f"{statistics.mean(f[3] for f in figures):.1f}",
        )
    Console(width=150).print(table)


if __name__ == "__main__":
    main()
