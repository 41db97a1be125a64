"""Live commands: every one is an event first; swaps land on a bar line and replay exactly."""

from __future__ import annotations

from bergain_actors import replay
from bergain_actors.control import HELP, parse
from bergain_actors.core import events as ev
from bergain_actors.core.log import read_all
from bergain_actors.performance import perform, set_paths


def test_parse_commands():
    assert parse("swap critic none") == ev.Control(command="swap", args={"slot": "critic", "kind": "none"})
    assert parse("provider switch local") == ev.ProviderControl(op="switch", provider="local")
    assert parse("stop") == ev.Control(command="stop")
    assert parse("help") == HELP
    assert parse("dance harder").startswith("not understood: 'dance harder'")


async def play(scenario, tmp_path, script):
    """Run a set whose 'person' types ``script`` (bar → command line) as the bars go by."""
    log_path, wav_path = set_paths(scenario, tmp_path, stamp="ctl")

    async def person(publish) -> None:
        for line in script:
            publish(parse(line))

    return await perform(scenario, "", log_path=log_path, wav_path=wav_path, keep_events=True, controls=person)


async def test_swap_lands_on_a_bar_line_and_verifies(scenario_factory, tmp_path):
    scenario = scenario_factory(bars=40)
    result = await play(scenario, tmp_path, ["swap critic none", "swap conductor hold", "swap nobody none"])
    events = result.events
    swapped = [e for e in events if isinstance(e, ev.ActorSwapped)]
    assert [(e.slot, e.old, e.new) for e in swapped] == [("critic", "arc", "none"), ("conductor", "autopilot", "hold")]
    controls = [e for e in events if isinstance(e, ev.Control)]
    assert [e.cause for e in swapped] == [controls[0].seq, controls[1].seq]
    first_bar_after = next(e for e in events if isinstance(e, ev.BarPlayed) and e.seq > controls[-1].seq)
    assert all(e.seq == first_bar_after.seq + i + 1 for i, e in enumerate(swapped))  # first thing on that bar line
    assert not [e for e in events if isinstance(e, ev.Directive) and e.seq > swapped[0].seq]
    moves_after = [e for e in events if isinstance(e, ev.MixerMove) and e.seq > swapped[1].seq]
    assert moves_after == []  # the safe hold brain keeps the groove as it was
    assert result.summary.bars_played == 40
    checked, problem = replay.verify(result.log_path, warn=lambda m: None)
    assert problem is None and checked == len(read_all(result.log_path)[1])


async def test_stop_ends_the_set_cleanly(scenario_factory, tmp_path):
    result = await play(scenario_factory(bars=400), tmp_path, ["stop"])
    ended = result.events[-1]
    assert isinstance(ended, ev.SetEnded) and ended.reason == "stopped"
    assert result.summary.bars_played < 400
    assert read_all(result.log_path)[1][-1] == ended
