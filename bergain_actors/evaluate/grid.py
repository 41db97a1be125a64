"""The grid an evaluation plays (brains × critics × briefs × seeds), what one set of it yields, and the figures
per brain across seeds. Pure: nothing here plays, reads or writes; ``evaluate.run`` does.

A set's result depends only on its cell (the scenario, the seed, the brief, the length), never on where or when it
ran, so the same grid gives the same table in one process, in ``--jobs`` processes or on a cluster.
"""

from __future__ import annotations

import math
import re

import msgspec

from bergain_actors.assess import SetReport
from bergain_actors.core import events as ev
from bergain_actors.core.summary import Summary
from bergain_actors.evaluate.spread import Spread, spread

BRAINS = {
    "autopilot": "autopilot.toml",
    "phrase-local": "local_phrase.toml",
    "phrase-scripted": "phrase_scripted.toml",
    "rlm-scripted": "rlm_scripted.toml",
}
"""Brains by name: the shipped scenario that plays each (a path to another scenario.toml names itself)."""
SCENARIO_CRITIC = ""
"""The critic the brain's scenario names."""
SCENARIO_BRIEF = ""
"""The brief the brain's scenario names."""


class GridError(ValueError):
    """A grid that cannot be played as asked; the message is one line naming the flag."""


class Cell(msgspec.Struct, frozen=True, order=True):
    brain: str
    critic: str
    brief: int
    """Index into the grid's briefs (-1: the scenario's own)."""
    seed: int

    def folder(self) -> str:
        """Where the set's files live under the evaluation's folder: the same cell, the same folder."""
        brain = re.sub(r"[^A-Za-z0-9_.-]+", "-", self.brain).strip("-.") or "brain"
        brief = "brief-scenario" if self.brief < 0 else f"brief-{self.brief + 1}"
        return f"{brain}/{self.critic or 'critic-scenario'}/{brief}/seed-{self.seed}"


class Grid(msgspec.Struct, frozen=True):
    brains: tuple[str, ...]
    critics: tuple[str, ...]
    briefs: tuple[str, ...]
    """Empty: each brain's scenario brief."""
    seeds: tuple[int, ...]
    minutes: float

    def brief(self, cell: Cell) -> str:
        return self.briefs[cell.brief] if cell.brief >= 0 else SCENARIO_BRIEF

    def cells(self) -> list[Cell]:
        briefs = range(len(self.briefs)) if self.briefs else [-1]
        return [
            Cell(brain, critic, brief, seed)
            for brain in self.brains
            for critic in self.critics
            for brief in briefs
            for seed in self.seeds
        ]


class Decisions(msgspec.Struct, frozen=True):
    """What the brain and the critic decided in one set, counted from its events."""

    moves: int
    refused: int
    phrase_decisions: int
    directives: int
    directives_answered: int
    lm_requests: int
    lm_failures: int
    fallbacks: int
    brain_changes: int
    holds: int


class SetResult(msgspec.Struct, frozen=True):
    """One set of the grid, as ``result.json`` in its folder keeps it (its presence marks the set done)."""

    cell: Cell
    minutes: float
    brief: str
    """The words the brain was given ("" for its scenario's own)."""
    report: SetReport
    decisions: Decisions
    log: str
    """The set's log and WAV, relative to the evaluation's folder."""
    wav: str
    wav_sha256: str


def decisions(events: list[ev.Event], summary: Summary) -> Decisions:
    moves = [e for e in events if isinstance(e, ev.MixerMove)]
    return Decisions(
        moves=len(moves),
        refused=sum(1 for m in moves if m.result.startswith("refused")),
        phrase_decisions=summary.phrase_decisions,
        directives=summary.directives,
        directives_answered=summary.acted,
        lm_requests=summary.lm_requests,
        lm_failures=summary.lm_failures,
        fallbacks=len(summary.fallbacks),
        brain_changes=len(summary.brain_changes),
        holds=summary.holds,
    )


def parse_seeds(text: str) -> tuple[int, ...]:
    """``1-50``, ``3,5,9`` or both (``1-10,20``) as the seeds in order, each once."""
    seeds: list[int] = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?", part)
        if not match:
            raise GridError(f"--seeds {text}: expected numbers and ranges like 1-50 or 1,3,5, got {part.strip()!r}")
        first = int(match[1])
        last = int(match[2]) if match[2] is not None else first
        if last < first:
            raise GridError(f"--seeds {text}: the range {part.strip()} runs backwards")
        if last - first >= 10_000:
            raise GridError(f"--seeds {text}: at most 10000 seeds in a range")
        seeds.extend(range(first, last + 1))
    return tuple(dict.fromkeys(seeds))


def parse_briefs(text: str) -> tuple[str, ...]:
    """A briefs file: one brief a line; blank lines and lines starting with ``#`` are skipped."""
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))


FIGURES: dict[str, tuple[str, int]] = {
    "lufs": ("LUFS", 1),
    "breakdown_to_peak_lu": ("BD→peak LU", 1),
    "stereo_correlation": ("stereo corr", 3),
    "highs_correlation": ("corr >150 Hz", 3),
    "combinations": ("combos", 1),
    "role_combinations": ("role sets", 1),
    "longest_identical_run": ("longest run", 1),
    "identical_consecutive_phrases": ("same phrases", 1),
    "refused_pct": ("refused %", 1),
    "phrases_changed_pct": ("phrases changed %", 0),
    "off_grid": ("off grid", 1),
    "silent_seconds": ("silent s", 1),
    "outro_kick_pct": ("outro kick %", 0),
    "moves": ("moves", 1),
    "phrase_decisions": ("phrase decisions", 1),
    "directives": ("directives", 1),
    "directives_answered": ("answered", 1),
    "lm_requests": ("LM requests", 1),
    "lm_failures": ("LM failed", 1),
    "fallbacks": ("fallbacks", 1),
    "holds": ("holds", 1),
}
"""The figures per brain, in table order: the music benchmark's (``bench/bench_music.py``), then the decisions."""


def report_figures(r: SetReport) -> dict[str, float]:
    """The music benchmark's figures of one set, by FIGURES key."""
    return {
        "lufs": r.lufs,
        "breakdown_to_peak_lu": r.breakdown_to_peak_lu,
        "stereo_correlation": r.stereo_correlation,
        "highs_correlation": r.highs_correlation,
        "combinations": r.combinations,
        "role_combinations": r.role_combinations,
        "longest_identical_run": r.longest_identical_run,
        "identical_consecutive_phrases": r.identical_consecutive_phrases,
        "refused_pct": 100 * r.refused_rate,
        "phrases_changed_pct": 100 * r.phrases_changed / r.phrases_compared if r.phrases_compared else math.nan,
        "off_grid": len(r.phases_off_grid),
        "silent_seconds": r.silent_seconds,
        "outro_kick_pct": 100.0 * r.outro_end_has_kick,
    }


def figures(result: SetResult) -> dict[str, float]:
    """One set's figures by FIGURES key: the music's, then the decisions'."""
    d = result.decisions
    return report_figures(result.report) | {
        "moves": d.moves,
        "phrase_decisions": d.phrase_decisions,
        "directives": d.directives,
        "directives_answered": d.directives_answered,
        "lm_requests": d.lm_requests,
        "lm_failures": d.lm_failures,
        "fallbacks": d.fallbacks,
        "holds": d.holds,
    }


class Group(msgspec.Struct, frozen=True):
    """One brain with one critic, across the grid's briefs and seeds."""

    brain: str
    critic: str
    sets: int
    figures: dict[str, Spread]


def summarize(results: list[SetResult]) -> list[Group]:
    """The figures per (brain, critic) across seeds and briefs, sorted by brain and critic."""
    groups: dict[tuple[str, str], list[SetResult]] = {}
    for result in sorted(results, key=lambda r: r.cell):
        groups.setdefault((result.cell.brain, result.cell.critic), []).append(result)
    out = []
    for (brain, critic), members in groups.items():
        per_set = [figures(m) for m in members]
        out.append(Group(brain, critic, len(members), {key: spread([f[key] for f in per_set]) for key in FIGURES}))
    return out
