"""Shared fixtures: scenarios on the shipped pack, sets run in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from bergain_actors.core import scenario as scenarios
from bergain_actors.core.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]


def make_scenario(tmp_path: Path, **changes: Any) -> Scenario:
    """The default scenario on the shipped pack, logging under ``tmp_path``, with ``changes`` applied
    (``conductor={...}`` style dicts merge into that table)."""
    raw = msgspec.to_builtins(scenarios.load(scenarios.DEFAULT_SCENARIO)[0])
    raw.pop("base_dir")
    raw.update(sample_pack=str(ROOT / "sample_pack"), log_dir=str(tmp_path), minutes=None, bars=32)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    return scenarios.from_builtins(raw)


@pytest.fixture
def scenario_factory(tmp_path: Path):
    def factory(**changes: Any) -> Scenario:
        return make_scenario(tmp_path, **changes)

    return factory
