"""The arc Critic: repetition is caught (bergain's never was), directives reach the Conductor and are answered."""

from __future__ import annotations

from bergain_actors.actors.conductor.base import Conductor
from bergain_actors.core import actor as registry
from bergain_actors.core import events as ev
from bergain_actors.core.actor import Actor
from bergain_actors.music import arc
from bergain_actors.music.critique import PlayedBar, critique
from bergain_actors.music.pack import ROLE_ORDER
from bergain_actors.music.plan import BarPlan, Layer
from bergain_actors.performance import perform, set_paths


class Static(Conductor):
    """One bar, forever: what a stuck brain sounds like."""

    kind = "static"

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.SetStarted):
            self.move("add", "kick", 0, gain=0.9)
            self.move("add", "hihat", 0, gain=0.5)
        super().handle(event)


class Nag(Actor):
    """A critic that asks for variation once, at bar 20."""

    kind = "nag"
    subscribes = (ev.BarPlayed,)

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.BarPlayed) and event.bar == 20:
            self.ctx.emit(ev.Directive(kind="vary", text="change something", bar=20, cause=event.seq))


registry.register("conductor", "static", Static)
registry.register("critic", "nag", Nag)


async def play(scenario, tmp_path):
    log_path, wav_path = set_paths(scenario, tmp_path, stamp="c")
    return await perform(scenario, "", log_path=log_path, wav_path=wav_path, keep_events=True)


async def test_one_bar_for_32_bars_gets_a_repetition_directive(scenario_factory, tmp_path):
    result = await play(scenario_factory(bars=48, conductor={"kind": "static"}), tmp_path)
    vary = [e for e in result.events if isinstance(e, ev.Directive) and e.kind == "vary"]
    assert vary, "the stagnation check must fire"
    assert vary[0].bar == 31  # not before two whole phrases of sameness
    assert vary[1].severity > vary[0].severity  # it escalates while it persists


async def test_autopilot_answers_a_directive_within_the_next_phrase(scenario_factory, tmp_path):
    result = await play(scenario_factory(bars=48, critic={"kind": "nag"}), tmp_path)
    directive = next(e for e in result.events if isinstance(e, ev.Directive))
    acted = [e for e in result.events if isinstance(e, ev.DirectiveActed)]
    assert len(acted) == 1 and acted[0].cause == directive.seq
    assert directive.bar < acted[0].bar <= directive.bar + 16
    audible = [e for e in result.events if isinstance(e, ev.MixerMove) and e.bar == acted[0].bar and e.result == "ok"]
    assert audible, "acting on a directive changes something audible"
    _, logged, _ = __import__("bergain_actors.core.log", fromlist=["read_all"]).read_all(result.log_path)
    assert any(isinstance(e, ev.DirectiveActed) and e.cause == directive.seq for e in logged)


def bars_of(plans: list[BarPlan]) -> list[PlayedBar]:
    return [PlayedBar(bar=p.bar, plan=p) for p in plans]


def plan(bar: int, *layers: tuple[str, float]) -> BarPlan:
    return BarPlan(
        bar=bar, bpm=128, layers=tuple(Layer(role=r, sample=f"{r}.wav", gain=g, hits=(0,)) for r, g in layers)
    )


def test_sameness_over_two_phrases_fires_and_a_change_clears_it():
    same = bars_of([plan(b, ("kick", 0.9), ("hihat", 0.5)) for b in range(100, 132)])
    found = critique(same, total_bars=256, repetition_bars=32, every_bars=8)
    assert [f.kind for f in found if f.kind == "vary"] == ["vary"]
    varied = same[:-1] + bars_of([plan(131, ("kick", 0.9), ("hihat", 0.6))])
    assert "vary" not in [f.kind for f in critique(varied, total_bars=256, repetition_bars=32, every_bars=8)]


def test_kick_presence_and_energy_rules():
    no_kick = bars_of([plan(b, ("hihat", 0.5)) for b in range(120, 128)])  # peak phase of a 256-bar set
    kinds = {f.kind for f in critique(no_kick, total_bars=256, repetition_bars=32, every_bars=8)}
    assert {"add_kick", "energy_up"} <= kinds
    loud = bars_of([plan(b, *((r, 1.0) for r in ROLE_ORDER[:9])) for b in range(0, 8)])  # intro
    kinds = {f.kind for f in critique(loud, total_bars=256, repetition_bars=32, every_bars=8)}
    assert {"energy_down", "less_dense"} <= kinds


def test_every_phase_target_is_reachable_within_the_guardrails():
    roles = [r for r in arc.ROLE_WEIGHT if r != "drum_loop"]
    for name, _start, low, high, cap in arc.PHASES:
        assert arc.max_energy(cap, roles) >= max(low, high) - 0.05, name


def test_a_target_moved_when_the_measure_went_its_way():
    from bergain_actors.music.critique import moved

    up = {"measure": "energy", "value": 0.2, "target": 0.6}
    assert moved(up, {"energy": 0.35}) == (True, 0.35)
    assert moved(up, {"energy": 0.9}) == (True, 0.9), "past the target is still the asked way"
    assert moved(up, {"energy": 0.25}) == (False, 0.25), "a nudge of an eighth of the gap is not enough"
    assert moved(up, {"energy": 0.1}) == (False, 0.1)
    down = {"measure": "centroid_hz", "value": 5600.0, "target": 2000.0}
    assert moved(down, {"centroid_hz": 1900.0}) == (True, 1900.0)
    assert moved(down, {"energy": 0.3}) is None, "a measure not heard cannot be checked"
