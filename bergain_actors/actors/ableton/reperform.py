"""``replay LOG --ableton [SCENARIO]``: a logged set performed again into Live, clocked by Live's beat.

The logged plans of the bars the speakers played (holds included, as ``--wav`` and ``--midi`` see them) are handed
to a fresh AbletonLink actor on a bus of their own, ``lookahead`` bars ahead of Live's bar line, exactly as the
Conductor handed them over live: the same clips, written and fired the same way. Nothing is decided again and
nothing is appended to the log.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import msgspec
import numpy as np
import trio

from bergain_actors.actors.ableton.actor import AbletonLink, clocked_by_live
from bergain_actors.actors.streamer.sinks import OfflineSink
from bergain_actors.core import events as ev
from bergain_actors.core.actor import ActorContext, SetContext
from bergain_actors.core.bus import Bus
from bergain_actors.core.scenario import Scenario
from bergain_actors.core.summary import Summary
from bergain_actors.music.plan import BarPlan


async def reperform(scenario: Scenario, plans: Sequence[BarPlan]) -> Summary:
    """Play ``plans`` (bar 0, 1, … in order) into the Live of ``scenario.ableton``; returns what happened."""
    total = len(plans)
    set_ctx = SetContext(scenario, fast=False, total_bars=total)
    sink = clocked_by_live(set_ctx, OfflineSink())
    bus = Bus(None)
    summary = Summary()
    bus.taps.append(summary.add)
    ctx = ActorContext("ableton", bus, set_ctx)
    actor = AbletonLink(ctx, scenario.ableton)
    bus.attach("ableton", actor, ("ableton",))
    frames = set_ctx.meter.bar_frames(0, scenario.sample_rate)[1]
    silence = np.zeros((frames, 2), dtype=np.float32)
    lookahead = scenario.lookahead_bars

    def plan(bar: int) -> None:
        if bar < total:
            bus.publish(ev.BarPlanned(plan=msgspec.structs.replace(plans[bar], bar=bar), bar=bar), source="replay")

    async with trio.open_nursery() as nursery:
        ctx.open(nursery)
        nursery.start_soon(actor.run, None)
        bus.publish(set_ctx.started(), source="replay")
        for bar in range(lookahead):
            plan(bar)
        for bar in range(total):
            await sink.play(silence)
            bus.publish(ev.BarPlayed(plan_seq=0, bar=bar), source="replay")
            plan(bar + lookahead)
        nursery.cancel_scope.cancel()
    bus.publish(ev.SetEnded(reason="complete", bars_played=total), source="replay")
    return summary


def into_live(log_path: Path, scenario_path: str) -> int:
    """The command: re-perform ``log_path`` into the Live that ``scenario_path``'s ``[ableton]`` names (or the
    log's own). Exit 0 when Live played it, 2 when Live could not be reached."""
    from bergain_actors import replay
    from bergain_actors.core import scenario as scenarios
    from bergain_actors.core.log import LogReader

    reader = LogReader(log_path)
    logged = replay.scenario_of(reader)
    ableton = scenarios.load(scenario_path)[0].ableton if scenario_path else logged.ableton
    if ableton.kind != "osc":
        where = scenario_path or log_path
        raise scenarios.ScenarioError(f'{where}: ableton.kind: expected "osc" to replay into Live')
    plans = list(replay.played_plans(LogReader(log_path)))
    summary = trio.run(reperform, msgspec.structs.replace(logged, ableton=ableton), plans)
    absent = [line for line in summary.ableton_changes if ": absent " in line]
    for line in summary.lines():
        print(line)
    if absent or summary.clips_fired + summary.scenes_fired == 0:
        why = absent[0].strip() if absent else "no clip fired"
        print(f"bergain-actors: replay --ableton: Live did not play the set ({why})", file=sys.stderr)
        return 2
    return 0
