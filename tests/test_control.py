"""Live commands: every one is an event first, gets a visible answer, and replays exactly; a wrong one is a
rejection, never a crash."""

from __future__ import annotations

import itertools
import math

import numpy as np
import soundfile as sf
import trio

from bergain_actors import replay
from bergain_actors.actors.streamer.sinks import ClockSink
from bergain_actors.control import Answer, Desk, Help, parse
from bergain_actors.core import actor as registry
from bergain_actors.core import events as ev
from bergain_actors.core.log import read_all
from bergain_actors.music import arc
from bergain_actors.music.arrangement import ORNAMENTS, bed_of
from bergain_actors.performance import perform, set_paths
from tests.conftest import ROOT


def test_parse_commands():
    assert parse("swap critic none") == ev.Control(command="swap", args={"slot": "critic", "kind": "none"})
    assert parse("provider switch local") == ev.ProviderControl(op="switch", provider="local")
    assert parse("provider add extra openai gpt-x http://h/v1") == ev.ProviderControl(
        op="add", provider="extra", config={"kind": "openai", "model": "gpt-x", "base_url": "http://h/v1"}
    )
    assert parse("stop") == ev.Control(command="stop")
    assert parse("stop now") == ev.Control(command="stop", args={"now": True})
    assert parse("stop 16") == ev.Control(command="stop", args={"bars": 16})
    assert parse("hold") == ev.Steer(intent="hold", text="hold")
    assert parse("resume") == ev.Steer(intent="resume", text="resume")
    assert parse("energy +") == ev.Steer(intent="energy", text="energy +", value=0.1)
    assert parse("energy --") == ev.Steer(intent="energy", text="energy --", value=-0.2)
    assert parse("energy 0.7") == ev.Steer(intent="energy", text="energy 0.7", value=0.7, absolute=True)
    assert parse("tempo 126") == ev.Steer(intent="tempo", text="tempo 126", value=126.0, absolute=True)
    assert parse("tempo -4") == ev.Steer(intent="tempo", text="tempo -4", value=-4.0)
    assert parse("  darker\t pls ") == ev.Steer(intent="say", text="darker pls")
    assert parse("help") == Help() and parse("") == Help()


def test_malformed_commands_are_rejections_that_say_why():
    for line, reason in [
        ("swap critic", "swap needs a slot and a kind"),
        ("stop soon", "stop takes nothing, 'now', or a number of bars"),
        ("energy 7", "energy: '7' is not +, -"),
        ("energy nan", "energy: 'nan' is not"),
        ("provider frob x", "provider needs an operation"),
        ("tempo fast", "tempo: 'fast' is not a BPM"),
        ("tempo 0", "tempo: '0' is not a BPM"),
        ("tempo", "tempo takes a BPM"),
        ("provider remove x y", "provider remove takes only a name"),
    ]:
        parsed = parse(line)
        assert isinstance(parsed, ev.CommandRejected), line
        assert parsed.command == line and parsed.reason.startswith(reason), parsed


async def play(scenario, tmp_path, script, answers=None, stamp="ctl"):
    """Run a set whose 'person' types each line of ``script`` once bar ``at`` has been played (tests that call it
    take ``autojump_clock``)."""
    log_path, wav_path = set_paths(scenario, tmp_path, stamp=stamp)

    async def person(desk: Desk) -> None:
        send, bars = trio.open_memory_channel[int](math.inf)
        desk.bus.taps.append(lambda e: send.send_nowait(e.bar) if isinstance(e, ev.BarPlayed) else None)
        played = -1
        for at, line in script:
            while played < at:
                played = await bars.receive()
            reply = desk.submit(line)
            if answers is not None:
                answers.append(reply)

    sink = ClockSink(scenario.sample_rate)  # paced like speakers (in virtual time): the person answers within a bar
    return await perform(
        scenario, "", log_path=log_path, wav_path=wav_path, sink=sink, keep_events=True, controls=person
    )


def verified(result) -> None:
    verdict = replay.verify(result.log_path, warn=lambda m: None)
    assert verdict.verified and verdict.done == len(read_all(result.log_path)[1])


async def test_swap_lands_on_a_bar_line_and_verifies(scenario_factory, tmp_path, autojump_clock):
    scenario = scenario_factory(bars=40)
    result = await play(scenario, tmp_path, [(0, "swap critic none"), (0, "swap conductor hold")])
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
    verified(result)


async def test_wrong_swaps_are_rejected_visibly_and_never_count_as_crashes(scenario_factory, tmp_path, autojump_clock):
    answers = []
    script = [(1, "swap conductor nonexistent"), (1, "swap nonexistent_slot x"), (1, "swap streamer audio")]
    script += [(1, "provider remove local"), (1, "swap critic none")]
    result = await play(scenario_factory(bars=12), tmp_path, script, answers)
    assert [a.ok for a in answers] == [False, False, False, False, True]
    known = "rejected: swap: conductor.kind: unknown kind 'nonexistent' (known: autopilot, hold, "
    assert answers[0].text.startswith(known)  # (other tests may register more kinds)
    assert answers[1].text.startswith("rejected: swap: no slot 'nonexistent_slot' in this set (slots: ")
    assert answers[2].text == "rejected: swap: the streamer cannot be swapped mid-set (it owns the audio device)"
    assert answers[3].text.startswith("rejected: provider remove: this set has no LM router")
    rejected = [e for e in result.events if isinstance(e, ev.CommandRejected)]
    assert [e.cause for e in rejected] == [a.seq for a in answers[:4]]
    assert not [e for e in result.events if isinstance(e, ev.ActorCrashed)]
    assert result.summary.crashes == [] and result.summary.rejected == 4
    assert [(e.slot, e.new) for e in result.events if isinstance(e, ev.ActorSwapped)] == [("critic", "none")]
    registry.register("conductor", "registered_later", "bergain_actors.actors.conductor.autopilot:HoldGroove")
    try:
        verified(result)  # the logged rejection does not depend on which kinds a process has registered
    finally:
        registry.KINDS["conductor"].pop("registered_later")


async def test_a_swap_to_a_kind_that_asks_an_lm_is_refused_in_a_set_without_a_router(
    scenario_factory, tmp_path, autojump_clock
):
    answers = []
    result = await play(
        scenario_factory(bars=8), tmp_path, [(1, "swap conductor phrase"), (1, "swap critic llm")], answers
    )
    why = "asks an LM, and this set has no LM router (add [router] providers to the scenario)"
    assert [a.text for a in answers] == [f"rejected: swap: conductor phrase {why}", f"rejected: swap: critic llm {why}"]
    assert not [e for e in result.events if isinstance(e, ev.ActorSwapped)]  # before: swapped, then "LM late"
    verified(result)


async def test_stop_now_ends_the_set_at_the_next_bar_line(scenario_factory, tmp_path, autojump_clock):
    answers = []
    result = await play(scenario_factory(bars=400), tmp_path, [(5, "stop now")], answers)
    ended = result.events[-1]
    assert isinstance(ended, ev.SetEnded) and ended.reason == "stopped"
    before = last_played_before(result.events, answers[0].seq)
    assert answers[0].ok and answers[0].text == f"stopping at the next bar line: the set ends at bar {before + 2}"
    assert result.summary.bars_played == ended.bars_played == before + 2  # the bar playing then was the last
    assert read_all(result.log_path)[1][-1] == ended


def last_played_before(events, seq):
    return max(e.bar for e in events if isinstance(e, ev.BarPlayed) and e.seq < seq)


def layers(events, bar):
    """The groove's roles in ``bar`` (not the arrangement's bed or transitions)."""
    plan = next(e.plan for e in events if isinstance(e, ev.BarPlanned) and e.bar == bar)
    return {layer.role for layer in plan.layers if layer.role not in ORNAMENTS}


async def test_stop_winds_down_to_a_phrase_line_and_replays(scenario_factory, tmp_path, autojump_clock):
    answers = []
    scenario = scenario_factory(bars=400, conductor={"brief": "techno"})  # a neutral brief: a full groove to thin
    result = await play(scenario, tmp_path, [(180, "stop"), (181, "darker")], answers)
    planned = next(e for e in result.events if isinstance(e, ev.StopPlanned))
    start = last_played_before(result.events, answers[0].seq) + 1 + scenario.lookahead_bars
    assert (planned.from_bar, planned.end_bar) == (start, 192)  # at least 8 bars of outro, then the next phrase line
    assert answers[0].text == (
        f"winding down: a {192 - start}-bar outro from bar {start}, the set ends at bar 192 (a phrase line);"
        " 'stop now' cuts"
    )
    ended = result.events[-1]
    assert isinstance(ended, ev.SetEnded) and ended.reason == "stopped" and ended.bars_played == 192
    played = [e.bar for e in result.events if isinstance(e, ev.BarPlayed)]
    assert played == list(range(192))
    counts = [len(layers(result.events, bar)) for bar in range(start - 1, 192)]
    assert counts[0] >= 4 and counts[-1] == 1, counts  # the groove thins out to one layer
    assert all(a >= b for a, b in itertools.pairwise(counts)), counts
    energies = [e.plan.energy for e in result.events if isinstance(e, ev.BarPlanned) and e.bar >= start - 1]
    assert energies[-1] < energies[0] / 3
    beds = [bed_of(e.plan).gain for e in result.events if isinstance(e, ev.BarPlanned) and e.bar >= start]
    assert beds[-1] < beds[0] / 2 and all(a >= b for a, b in itertools.pairwise(beds))  # the room empties too
    assert [a.ok for a in answers] == [True, True]
    late = next(e for e in result.events if isinstance(e, ev.SteerActed))
    assert (late.cause, late.action) == (answers[1].seq, "the set is winding down: no change")
    verified(result)
    rendered = tmp_path / "replayed.wav"
    replay.render(result.log_path, rendered, warn=lambda m: None)
    assert rendered.read_bytes() == result.wav_path.read_bytes()


def centroid(wav, first_bar, bars, seconds_per_bar):
    """Spectral centroid (Hz) of ``bars`` bars of a WAV from ``first_bar``."""
    audio, rate = sf.read(wav)
    mono = audio.mean(axis=1)
    start = round(first_bar * seconds_per_bar * rate)
    part = mono[start : start + round(bars * seconds_per_bar * rate)]
    spectrum = np.abs(np.fft.rfft(part))
    freqs = np.fft.rfftfreq(len(part), 1 / rate)
    return float((spectrum * freqs).sum() / spectrum.sum())


async def test_darker_darkens_the_next_phrase(scenario_factory, tmp_path, autojump_clock):
    scenario = scenario_factory(bars=80, conductor={"brief": "techno"})  # a neutral brief, leaned by the steer
    plain = await play(scenario, tmp_path, [], stamp="plain")
    answers = []
    steered = await play(scenario, tmp_path, [(36, "darker")], answers, stamp="dark")
    acted = next(e for e in steered.events if isinstance(e, ev.SteerActed))
    assert acted.intent == "darker" and acted.bar == 40 and acted.cause == answers[0].seq
    assert "remove hihat" in acted.action and acted.action.endswith("; tone -0.50 from now on")
    spb = plain.summary.seconds_per_bar
    before, after = centroid(plain.wav_path, 40, 8, spb), centroid(steered.wav_path, 40, 8, spb)
    assert after < 0.9 * before, (before, after)  # the hats fade out and the rest glide down over 2 bars
    leaned = [e for e in steered.events if isinstance(e, ev.MixerMove) and "darker" in e.args.get("brief", "")]
    assert leaned and all(e.bar >= 40 for e in leaned), "later moves lean darker, as a darker brief would"
    assert centroid(plain.wav_path, 0, 40, spb) == centroid(steered.wav_path, 0, 40, spb)  # nothing before it
    verified(steered)
    rendered = tmp_path / "replayed.wav"
    replay.render(steered.log_path, rendered, warn=lambda m: None)
    assert rendered.read_bytes() == steered.wav_path.read_bytes()


async def test_hold_keeps_the_groove_until_resume(scenario_factory, tmp_path, autojump_clock):
    answers = []
    result = await play(scenario_factory(bars=120), tmp_path, [(10, "hold"), (60, "resume")], answers)
    acted = [e for e in result.events if isinstance(e, ev.SteerActed)]
    hold, resume = (last_played_before(result.events, a.seq) + 1 + 2 for a in answers)  # the next bar planned
    assert [(e.intent, e.bar) for e in acted] == [("hold", hold), ("resume", resume)]
    held = [e for e in result.events if isinstance(e, ev.BarPlanned) and hold <= e.bar < resume]
    assert len({e.plan.layers for e in held}) == 1  # not one change while holding, phase changes included
    assert any(isinstance(e, ev.PhaseChanged) and hold <= e.bar < resume for e in result.events)
    after = -(-resume // 16) * 16
    moves = [e for e in result.events if isinstance(e, ev.MixerMove) and e.result == "ok"]
    assert not [e for e in moves if hold <= e.bar < after] and [e for e in moves if e.bar == after]
    assert [a.text for a in answers] == [
        "holding the groove from the next bar: no changes until 'resume'",
        "resuming: the brain changes things again from the next phrase",
    ]
    verified(result)


async def test_energy_moves_the_target_and_the_mix(scenario_factory, tmp_path, autojump_clock):
    result = await play(scenario_factory(bars=64), tmp_path, [(33, "energy -"), (33, "energy -")])
    plans = {e.bar: e.plan for e in result.events if isinstance(e, ev.BarPlanned)}
    assert plans[35].target == arc.phase_at(35, 64)[1]
    assert plans[36].target == round(arc.phase_at(36, 64)[1] - 0.2, 4)
    assert plans[50].target == round(arc.phase_at(50, 64)[1] - 0.2, 4)  # it stays moved
    acted = [e for e in result.events if isinstance(e, ev.SteerActed)]
    assert [(e.intent, e.bar) for e in acted] == [("energy_down", 36), ("energy_down", 36)]
    assert plans[36].energy < plans[35].energy
    verified(result)


async def test_a_tempo_steer_glides_within_the_limits_and_replays_to_the_same_bytes(
    scenario_factory, tmp_path, autojump_clock
):
    result = await play(scenario_factory(bars=32), tmp_path, [(5, "tempo 200"), (17, "tempo 128")])
    plans = {e.bar: e.plan for e in result.events if isinstance(e, ev.BarPlanned)}
    acted = [e for e in result.events if isinstance(e, ev.SteerActed)]
    assert [(e.intent, e.bar, e.action) for e in acted] == [
        ("tempo", 8, "ok: tempo glides from 128 to 153.6 BPM over 13 bars (kept within 102.4-153.6 BPM)"),
        ("tempo", 20, "ok: tempo glides from 152 to 128 BPM over 12 bars"),
    ]
    assert [plans[b].bpm for b in (7, 8, 9, 19, 20, 31)] == [128, 130, 132, 152, 150, 128]
    assert all(abs(plans[b + 1].bpm - plans[b].bpm) <= 2 for b in range(31))
    verified(result)
    rendered = tmp_path / "replayed.wav"
    replay.render(result.log_path, rendered, warn=lambda m: None)
    assert rendered.read_bytes() == result.wav_path.read_bytes()


async def test_provider_remove_can_be_undone_with_add(scenario_factory, tmp_path, autojump_clock):
    script = str(ROOT / "scenarios" / "phrase_answers.json")
    scenario = scenario_factory(
        bars=48,
        conductor={"kind": "phrase"},
        router={"providers": [{"name": "scripted", "kind": "scripted", "script": script}]},
    )
    answers = []
    lines = ["provider remove scripted", "provider remove scripted", "provider add scripted"]
    lines += ["provider add other bogus"]
    result = await play(scenario, tmp_path, [(4, line) for line in lines], answers)
    assert [a.text for a in answers[:3]] == [
        "provider remove scripted: providers now none",
        "rejected: provider remove scripted: no provider named 'scripted' (providers: none)",
        "provider add scripted: providers now scripted ●",
    ]
    assert answers[3] == Answer(
        False,
        "rejected: provider add other: unknown provider kind 'bogus' (known: anthropic, local, openai, scripted)",
        answers[3].seq,
    )
    assert result.summary.rejected == 2 and result.summary.crashes == []
    verified(result)


async def test_every_brain_answers_a_steer_within_a_phrase(scenario_factory, tmp_path, autojump_clock):
    script = str(ROOT / "scenarios" / "phrase_answers.json")
    scenario = scenario_factory(
        bars=64,
        conductor={"kind": "phrase"},
        router={"providers": [{"name": "scripted", "kind": "scripted", "script": script}]},
    )
    answers = []
    result = await play(scenario, tmp_path, [(20, "breakdown now"), (40, "more tension")], answers)
    acted = [e for e in result.events if isinstance(e, ev.SteerActed)]
    assert [(e.intent, e.cause) for e in acted] == [("breakdown", answers[0].seq), ("tension", answers[1].seq)]
    for answer, steered in zip(answers, acted, strict=True):
        asked_at = last_played_before(result.events, answer.seq) + 1
        assert steered.bar - asked_at <= scenario.conductor.phrase_bars
    assert acted[0].action.startswith("ok: dropped")
    requests = [e for e in result.events if isinstance(e, ev.LMRequest) and e.seq > answers[0].seq]
    assert any("The performer asks: breakdown now" in e.messages[-1]["content"] for e in requests)
    verified(result)


async def test_a_failing_front_end_never_stops_the_music(scenario_factory, tmp_path, autojump_clock, capsys):
    scenario = scenario_factory(bars=24)
    log_path, wav_path = set_paths(scenario, tmp_path, stamp="broken")

    async def broken(desk: Desk) -> None:
        desk.submit("darker")
        raise RuntimeError("the terminal exploded")

    sink = ClockSink(scenario.sample_rate)
    result = await perform(scenario, "", log_path=log_path, wav_path=wav_path, sink=sink, controls=broken)
    assert result.summary.bars_played == 24 and result.summary.end == "complete"
    said = capsys.readouterr()
    assert "the control front end failed; the set plays on without it" in said.out + said.err
    assert result.summary.steers == 1  # what it said before failing still counts
