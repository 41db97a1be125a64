"""Variety over an 8-minute set, from every offline brain: at least 16 textures heard (``texture.distinct``), no
phrase that sounds bar for bar like the one before, and a phase filled differently from one seed to another."""

from __future__ import annotations

import pytest

from bergain_actors.assess import played_plans
from bergain_actors.core import events as ev
from bergain_actors.core import scenario as scenarios
from bergain_actors.music import measure, texture
from tests.brain_support import load, logged, of, play


async def eight_minutes(name: str, seed: int, tmp_path) -> list[ev.Event]:
    scenario, text = load(name)
    scenario = scenarios.replace(scenario, minutes=8.0, bars=None, seed=seed)
    result = await play(scenario, text, tmp_path)
    return logged(result.log_path)


@pytest.mark.parametrize(("name", "seed"), [("phrase_scripted.toml", 7), ("rlm_scripted.toml", 7)])
async def test_a_scripted_brain_plays_sixteen_textures_and_never_repeats_a_phrase(name, seed, tmp_path):
    events = await eight_minutes(name, seed, tmp_path)
    plans = played_plans(events)
    assert len(plans) == 256
    assert texture.distinct(plans) >= 16, texture.held(plans)
    assert measure.identical_consecutive_phrases(plans) == 0
    moves = of(events, ev.MixerMove)
    assert sum(m.result.startswith("refused") for m in moves) <= 0.05 * len(moves)


async def test_the_autopilot_fills_a_phase_more_than_one_way(tmp_path):
    orders = set()
    for seed in (1, 2, 3):
        (tmp_path / str(seed)).mkdir()
        events = await eight_minutes("autopilot.toml", seed, tmp_path / str(seed))
        plans = played_plans(events)
        assert texture.distinct(plans) >= 16, (seed, texture.held(plans))
        assert measure.identical_consecutive_phrases(plans) == 0
        peak = next(e.bar for e in of(events, ev.PhaseChanged) if e.phase == "peak")
        orders.add(tuple(m.role for m in of(events, ev.MixerMove) if m.bar == peak and m.move == "add"))
    assert len(orders) > 1, orders  # the seeded dice order the roles that are not essential
