"""Supervision: crashes restart, repeated crashes fall back, full inboxes never stall the bus."""

from __future__ import annotations

import trio

from bergain_actors.actors.critic.arc import ArcCritic
from bergain_actors.actors.streamer.sinks import ClockSink
from bergain_actors.cli import main
from bergain_actors.core import actor as registry
from bergain_actors.core import events as ev
from bergain_actors.core.actor import Actor
from bergain_actors.core.log import read_all
from bergain_actors.performance import perform, set_paths


class CrashOnce(ArcCritic):
    """A critic with a one-off bug at bar 5."""

    kind = "crash_once"
    crashed = False

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.BarPlayed) and event.bar == 5 and not CrashOnce.crashed:
            CrashOnce.crashed = True
            raise RuntimeError("one-off bug")
        super().handle(event)


class AlwaysCrash(ArcCritic):
    kind = "always_crash"

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.BarPlayed) and event.bar >= 3:
            raise ValueError(f"broken at bar {event.bar}")
        super().handle(event)


class Stuck(Actor):
    """An observer that never reads its inbox: a hung display or a critic waiting on the network."""

    kind = "stuck"
    inline = False
    deciding = False
    subscribes = (ev.BarPlanned, ev.BarPlayed)

    async def run(self, inbox) -> None:
        await trio.sleep_forever()


registry.register("critic", "crash_once", CrashOnce)
registry.register("critic", "always_crash", AlwaysCrash)
registry.register("critic", "stuck", Stuck)


async def play(scenario, tmp_path, sink=None):
    log_path, wav_path = set_paths(scenario, tmp_path, stamp="t")
    return await perform(scenario, "", log_path=log_path, wav_path=wav_path, keep_events=True, sink=sink)


def paced(scenario) -> ClockSink:
    """A sink that takes bars at the speed of time (virtual, under ``autojump_clock``), so a late plan is a hold:
    offline the streamer waits for plans and ``holds == 0`` could never fail."""
    return ClockSink(scenario.sample_rate)


async def test_one_crash_restarts_and_set_goes_on(scenario_factory, tmp_path):
    CrashOnce.crashed = False
    result = await play(scenario_factory(bars=24, critic={"kind": "crash_once"}), tmp_path)
    kinds = [type(e).__name__ for e in result.events]
    assert kinds.count("ActorCrashed") == 1
    assert kinds.count("ActorRestarted") == 1
    assert "ActorFellBack" not in kinds
    assert result.summary.bars_played == 24
    restarted = next(e for e in result.events if isinstance(e, ev.ActorRestarted))
    assert (restarted.slot, restarted.kind, restarted.attempt) == ("critic", "crash_once", 1)
    # the restarted critic still judges: a directive after the restart proves it is alive
    assert [e for e in result.events if isinstance(e, ev.Directive) and e.seq > restarted.seq], "no directive after"


async def test_repeated_crashes_fall_back_and_everything_is_logged(scenario_factory, tmp_path, capsys):
    scenario = scenario_factory(bars=24, critic={"kind": "always_crash"}, supervisor={"max_restarts": 3})
    result = await play(scenario, tmp_path)
    assert result.summary.bars_played == 24
    crashes = [e for e in result.events if isinstance(e, ev.ActorCrashed)]
    restarts = [e for e in result.events if isinstance(e, ev.ActorRestarted)]
    fallbacks = [e for e in result.events if isinstance(e, ev.ActorFellBack)]
    assert len(crashes) == 4 and len(restarts) == 3
    assert [(f.slot, f.old, f.new) for f in fallbacks] == [("critic", "always_crash", "none")]
    assert "broken at bar 3" in crashes[0].error
    _, logged, problem = read_all(result.log_path)
    assert problem is None
    assert [type(e) for e in logged] == [type(e) for e in result.events]
    assert main(["inspect", str(result.log_path)]) == 0
    out = capsys.readouterr().out
    assert "crashes          4" in out and "restarts         3" in out and "actor fallbacks  1" in out
    assert "critic always_crash → none" in out


async def test_full_inbox_marks_observer_overloaded_and_never_blocks_audio(scenario_factory, tmp_path, autojump_clock):
    scenario = scenario_factory(bars=40, critic={"kind": "stuck"}, supervisor={"inbox": 4})
    result = await play(scenario, tmp_path, paced(scenario))
    overloaded = [e for e in result.events if isinstance(e, ev.ActorOverloaded)]
    assert overloaded and overloaded[0].slot == "critic" and overloaded[0].capacity == 4
    assert any(isinstance(e, ev.ActorRestarted) and e.slot == "critic" for e in result.events)
    assert result.summary.bars_played == 40
    assert result.summary.holds == 0


async def test_conductor_crash_resumes_the_groove_without_a_hold(scenario_factory, tmp_path, autojump_clock):
    from bergain_actors.actors.conductor.autopilot import Autopilot

    class Fragile(Autopilot):
        kind = "fragile"
        broke = False

        def plan_bar(self, bar: int) -> None:
            if bar == 10 and not Fragile.broke:
                Fragile.broke = True
                raise RuntimeError("conductor bug")
            super().plan_bar(bar)

    registry.register("conductor", "fragile", Fragile)
    scenario = scenario_factory(bars=20, conductor={"kind": "fragile"})
    result = await play(scenario, tmp_path, paced(scenario))
    planned = sorted(e.plan.bar for e in result.events if isinstance(e, ev.BarPlanned))
    assert planned == list(range(20))
    assert result.summary.holds == 0
    assert sum(isinstance(e, ev.ActorRestarted) for e in result.events) == 1
