"""Shared helpers for the brain tests: run a scenario for real (perform) and read its log back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from bergain_actors.core import events as ev
from bergain_actors.core import scenario as scenarios
from bergain_actors.core.log import LogReader
from bergain_actors.performance import SetResult, perform

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def load(name: str, **conductor: Any) -> tuple[scenarios.Scenario, str]:
    scenario, text = scenarios.load(SCENARIOS / name)
    if conductor:
        scenario = scenarios.replace(scenario, conductor=msgspec.structs.replace(scenario.conductor, **conductor))
    return scenario, text


async def play(scenario: scenarios.Scenario, text: str, tmp_path: Path, **kwargs: Any) -> SetResult:
    return await perform(
        scenario, text, log_path=tmp_path / "set.bgnlog", wav_path=tmp_path / "set.wav", keep_events=True, **kwargs
    )


def logged(path: Path) -> list[ev.Event]:
    return list(LogReader(path))


def of(events: list[ev.Event], kind: type[ev.Event]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]
