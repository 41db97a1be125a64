"""The brief audibly matters, in every brain (issue 18.5): on one seed, "minimal and sparse" plays fewer layers in
the peaks, "dark hypnotic warehouse" sounds darker (a lower spectral centroid) and "euphoric peak-time" brighter
and louder in the peaks than the scenario's own brief, each measured on the set's audio (``assess.py``, what
``bench/bench_music.py --briefs`` prints)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
import soundfile as sf
import trio

from bergain_actors.assess import SetReport, assess
from bergain_actors.core import events as ev
from bergain_actors.core import scenario as scenarios
from bergain_actors.core.log import read_all
from bergain_actors.core.scenario import PACKAGE_ROOT
from bergain_actors.performance import perform, set_paths

BRIEFS = ("minimal and sparse", "dark hypnotic warehouse", "euphoric peak-time")


def one_set(path: Path, out: Path, brief: str | None, minutes: float) -> tuple[SetReport, list[ev.Event]]:
    scenario, text = scenarios.load(path)
    scenario = scenarios.replace(scenario, minutes=minutes, bars=None, seed=7)
    # an offline set waits for every answer within the provider's timeout: a loaded machine may need minutes
    patient = [msgspec.structs.replace(p, timeout_s=300.0) for p in scenario.router.providers]
    scenario = scenarios.replace(scenario, router=msgspec.structs.replace(scenario.router, providers=patient))
    if brief is not None:
        scenario = msgspec.structs.replace(scenario, conductor=msgspec.structs.replace(scenario.conductor, brief=brief))
    out.mkdir()
    log_path, wav_path = set_paths(scenario, out, stamp="brief")
    trio.run(lambda: perform(scenario, text, log_path=log_path, wav_path=wav_path))
    events = read_all(log_path)[1]
    audio, rate = sf.read(wav_path, dtype="float32", always_2d=True)
    return assess(events, audio, rate, scenario.conductor.phrase_bars), events


def sets(path: Path, tmp_path: Path, minutes: float) -> dict[str, tuple[SetReport, list[ev.Event]]]:
    found = {"scenario": one_set(path, tmp_path / "scenario", None, minutes)}
    for index, brief in enumerate(BRIEFS):
        found[brief] = one_set(path, tmp_path / f"brief{index}", brief, minutes)
    return found


def plans(events: list[ev.Event]) -> list[tuple]:
    return [e.plan.layers for e in events if isinstance(e, ev.BarPlanned)]


def in_the_stated_direction(found: dict[str, tuple[SetReport, list[ev.Event]]]) -> None:
    base, base_events = found["scenario"]
    sparse, dark, euphoric = (found[brief][0] for brief in BRIEFS)
    assert sparse.peak_layers < base.peak_layers - 1, (sparse.peak_layers, base.peak_layers)
    assert dark.centroid_hz < base.centroid_hz, (dark.centroid_hz, base.centroid_hz)
    assert euphoric.centroid_hz > base.centroid_hz and euphoric.peak_lufs > base.peak_lufs, (euphoric, base)
    for brief in BRIEFS:
        assert plans(found[brief][1]) != plans(base_events), f"{brief!r} plays the same set as the scenario's brief"
        read = next(e for e in found[brief][1] if isinstance(e, ev.IntentsRead))
        assert read.origin == "brief" and read.text == brief and read.intents


@pytest.mark.timeout(1800)
def test_the_brief_moves_the_autopilots_set_its_own_way(tmp_path):
    in_the_stated_direction(sets(PACKAGE_ROOT / "scenarios" / "autopilot.toml", tmp_path, 8))


@pytest.mark.llm
@pytest.mark.timeout(3600)
def test_the_brief_moves_the_phrase_brains_set_on_the_embedded_lm(tmp_path):
    found = sets(PACKAGE_ROOT / "scenarios" / "local_phrase.toml", tmp_path, 3)  # every phase, fewer LM calls
    for brief in BRIEFS:
        read = next(e for e in found[brief][1] if isinstance(e, ev.IntentsRead))
        # the LM chose among the code's candidates, or the log says why code did (or code found one: no choice)
        assert read.method == "lm" or read.fallback or len(read.intents) == 1, read
        decisions = [e for e in found[brief][1] if isinstance(e, ev.PhraseDecision)]
        assert decisions, f"{brief!r}: the phrase brain made no decision"
    in_the_stated_direction(found)
