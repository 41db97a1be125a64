"""The streamer never goes silent: late plans become holds, in virtual time on a clock-paced sink."""

from __future__ import annotations

import soundfile as sf
import trio

from bergain_actors.actors.conductor.autopilot import Autopilot
from bergain_actors.actors.streamer.sinks import ClockSink
from bergain_actors.cli import main
from bergain_actors.core import actor as registry
from bergain_actors.core import events as ev
from bergain_actors.performance import perform, set_paths

SLOW = range(8, 11)


class Late(Autopilot):
    """Delivers bars 8-10 a bar and a half after they were asked for: past the streamer's deadline."""

    kind = "late"

    async def run(self, inbox) -> None:
        await trio.sleep_forever()

    def plan_bar(self, bar: int) -> None:
        if bar in SLOW:
            self.ctx.spawn(self._late, bar)
        else:
            super().plan_bar(bar)

    async def _late(self, bar: int) -> None:
        await trio.sleep(float(self.ctx.set.meter.bar_seconds) * 1.5)
        super().plan_bar(bar)


registry.register("conductor", "late", Late)


async def test_missed_deadlines_hold_the_groove_without_a_gap(autojump_clock, scenario_factory, tmp_path, capsys):
    scenario = scenario_factory(bars=24, conductor={"kind": "late"})
    log_path, wav_path = set_paths(scenario, tmp_path, stamp="late")
    start = trio.current_time()
    result = await perform(
        scenario, "", log_path=log_path, wav_path=wav_path, sink=ClockSink(scenario.sample_rate), keep_events=True
    )
    played = [e for e in result.events if isinstance(e, ev.BarPlayed)]
    assert [e.bar for e in played] == list(range(24))
    held = [e.bar for e in played if e.held]
    assert held == list(SLOW)
    assert [e.bar for e in result.events if isinstance(e, ev.BarHeld)] == list(SLOW)
    assert sorted(e.bar for e in result.events if isinstance(e, ev.LatePlan)) == list(SLOW)
    # after the trouble the Conductor's own plans play again
    plans = {e.seq: e.plan.bar for e in result.events if isinstance(e, ev.BarPlanned)}
    assert all(plans[e.plan_seq] == e.bar for e in played if e.bar > max(SLOW))
    # a held bar replays the last good plan
    assert all(plans[e.plan_seq] == min(SLOW) - 1 for e in played if e.held)
    # no gap: every bar is in the WAV, at the set's exact length, and it took real (virtual) time
    assert sf.info(wav_path).frames == round(24 * 1.875 * 44100)
    assert trio.current_time() - start >= 23 * 1.875
    assert result.summary.holds == 3
    # and replay reproduces the audio of the holds bit for bit
    out = tmp_path / "replayed.wav"
    assert await trio.to_thread.run_sync(main, ["replay", str(log_path), "--wav", str(out)]) == 0
    assert out.read_bytes() == wav_path.read_bytes()
