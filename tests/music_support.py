"""A real autopilot set, played in-process offline, and the plans its speakers took (holds included)."""

from __future__ import annotations

from pathlib import Path

import trio

from bergain_actors.core.log import LogReader
from bergain_actors.core.scenario import Scenario
from bergain_actors.music.plan import BarPlan
from bergain_actors.performance import perform, set_paths
from bergain_actors.replay import played_plans
from tests.conftest import make_scenario


def play_set(out: Path, **changes: object) -> tuple[Scenario, Path, Path]:
    """Play the autopilot scenario with ``changes`` into ``out``; returns it with its log and WAV."""
    scenario = make_scenario(out, **changes)
    log_path, wav_path = set_paths(scenario, out, stamp="set")
    trio.run(lambda: perform(scenario, "", log_path=log_path, wav_path=wav_path))
    return scenario, log_path, wav_path


def plans_of(log_path: Path) -> list[BarPlan]:
    return list(played_plans(LogReader(log_path)))
