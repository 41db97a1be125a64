"""Critics that hear: the streamer measures every bar, the ``audio`` critic judges those figures and checks a
judgement later whether its target moved; the ``llm`` critic asks the router once a phrase and falls back to the
arc's rules, saying so, when the LM is down; both swap in mid-set without a gap, and every set replays."""

from __future__ import annotations

import json

import msgspec
import numpy as np

from bergain_actors.actors.conductor.autopilot import Autopilot
from bergain_actors.core import actor as registry
from bergain_actors.core import events as ev
from bergain_actors.core import scenario as scenarios
from bergain_actors.music import arc
from bergain_actors.music.critique import HISS_HZ, PlayedBar, hear_critique
from bergain_actors.music.hearing import Hearing, hear
from bergain_actors.music.plan import BarPlan
from bergain_actors.performance import perform
from tests.test_control import play as play_with_person
from tests.test_control import verified

RATE = 44100


class Kickless(Autopilot):
    """Takes the kick out of the peak for good at bar 40: the kind of accident only a listening critic hears."""

    kind = "kickless"

    def plan_bar(self, bar: int) -> None:
        if bar == 40 and "kick" in self.mixer.channels:
            with self.person_asked():
                self.move("remove", "kick", bar)
        super().plan_bar(bar)


registry.register("conductor", "kickless", Kickless)


def test_hearing_measures_a_bar():
    beat = RATE * 60 // 128
    t = np.arange(beat) / RATE
    thump = (np.sin(2 * np.pi * 55 * t) * np.exp(-t * 18)).astype(np.float32)
    bar = np.zeros((4 * beat, 2), np.float32)
    for i in range(4):
        bar[i * beat : (i + 1) * beat] += thump[:, None]
    kick = hear(bar, RATE, 4)
    assert kick.kick == 1.0 and kick.low_end > 0.9 and kick.centroid_hz < 150 and kick.width == 0.0
    noise = np.random.default_rng(1).standard_normal((4 * beat, 2)).astype(np.float32) * 0.05
    hiss = hear(noise, RATE, 4)
    assert hiss.kick == 0.0 and hiss.centroid_hz > 8000 and 0.4 < hiss.width < 0.6
    assert hiss.loudness_db < kick.loudness_db


async def test_audio_critic_hears_a_missing_kick_and_sees_it_come_back(scenario_factory, tmp_path, autojump_clock):
    scenario = scenario_factory(bars=96, conductor={"kind": "kickless"}, critic={"kind": "audio"})
    result = await play_with_person(scenario, tmp_path, [])
    events = result.events
    played = [e for e in events if isinstance(e, ev.BarPlayed)]
    assert all(e.heard is not None for e in played)
    heard = [d for d in events if isinstance(d, ev.Directive) and d.data.get("measure") == "kick"]
    assert heard and heard[0].kind == "add_kick" and heard[0].data["by"] == "audio"
    assert 40 <= heard[0].bar <= 48 and heard[0].data["value"] < 0.75
    checked = [e for e in events if isinstance(e, ev.DirectiveMoved) and e.cause == heard[0].seq]
    assert len(checked) == 1 and checked[0].moved and checked[0].after > 0.75, checked
    assert [e.bar for e in played] == list(range(96))
    verified(result)


def critic_answers(tmp_path, answers) -> scenarios.ProviderConfig:
    script = tmp_path / "critic.json"
    script.write_text(json.dumps({"critic": answers}))
    return scenarios.ProviderConfig(name="scripted", kind="scripted", script=str(script))


async def test_swap_critic_audio_then_llm_mid_set_without_a_gap(scenario_factory, tmp_path, autojump_clock):
    scenario = scenario_factory(bars=96)
    provider = critic_answers(tmp_path, [{"directive": "vary"}, {"directive": "none"}, {"directive": "darker"}])
    scenario = scenarios.replace(scenario, router=msgspec.structs.replace(scenario.router, providers=[provider]))
    result = await play_with_person(scenario, tmp_path, [(20, "swap critic audio"), (50, "swap critic llm")])
    events = result.events
    swaps = [e for e in events if isinstance(e, ev.ActorSwapped) and e.slot == "critic"]
    assert [(e.old, e.new) for e in swaps] == [("arc", "audio"), ("audio", "llm")]
    played = [e for e in events if isinstance(e, ev.BarPlayed)]
    assert [e.bar for e in played] == list(range(96)) and not any(e.held for e in played)
    voices = [(d.seq, d.data.get("by")) for d in events if isinstance(d, ev.Directive)]
    assert {by for seq, by in voices if swaps[0].seq < seq < swaps[1].seq} <= {"audio"}
    asked = [e for e in events if isinstance(e, ev.LMRequest) and e.purpose == "critic"]
    assert asked and all(e.seq > swaps[1].seq for e in asked)
    assert (asked[0].bar + 1) % 16 == 0, "the llm critic asks at the end of a phrase"
    said = [d for d in events if isinstance(d, ev.Directive) and d.data.get("by") == "llm"]
    assert said and said[0].kind == "vary" and said[0].data["measure"] == "sameness"
    assert not [e for e in events if isinstance(e, ev.CriticChanged)]
    verified(result)


async def test_llm_critic_on_a_dead_provider_falls_back_to_arc_and_says_so(scenario_factory, tmp_path, autojump_clock):
    dead = scenarios.ProviderConfig(name="dead", kind="openai", base_url="http://127.0.0.1:9/v1", model="m")
    scenario = scenario_factory(bars=64, critic={"kind": "llm"})
    scenario = scenarios.replace(
        scenario, router=msgspec.structs.replace(scenario.router, providers=[dead], probe_at_start=False)
    )
    result = await play_with_person(scenario, tmp_path, [])
    events = result.events
    failed = [e for e in events if isinstance(e, ev.LMFailed) and e.request_id.startswith("critic:")]
    changed = [e for e in events if isinstance(e, ev.CriticChanged)]
    assert failed and changed and (changed[0].old, changed[0].new) == ("llm", "arc")
    assert changed[0].seq > failed[0].seq and "the LM failed" in changed[0].reason
    after = [d for d in events if isinstance(d, ev.Directive) and d.seq > changed[0].seq]
    assert after and all(d.data["by"] == "arc" for d in after), "the arc's rules speak in its place"
    assert [e.bar for e in events if isinstance(e, ev.BarPlayed)] == list(range(64))
    verified(result)


async def test_the_breakdown_is_no_hiss_bath_and_the_audio_critic_hears_so(scenario_factory, tmp_path):
    """The autopilot's breakdown is carried by a pad and a stab, not hats and noise: its bars measure well under
    the hiss line, so the audio critic asks for nothing darker there."""
    scenario = scenario_factory(bars=256, critic={"kind": "audio"})  # an 8-minute arc: a 32-bar breakdown
    result = await perform(scenario, "", log_path=tmp_path / "s.bgnlog", wav_path=tmp_path / "s.wav", keep_events=True)
    events = result.events
    phases = {e.bar: e.phase for e in events if isinstance(e, ev.PhaseChanged)}
    start = next(bar for bar, phase in phases.items() if phase == "breakdown")
    end = min(bar for bar in phases if bar > start)
    heard = [e.heard for e in events if isinstance(e, ev.BarPlayed) and start <= e.bar < end and e.heard]
    assert len(heard) == end - start
    assert float(np.median([h.centroid_hz for h in heard])) < HISS_HZ / 2
    assert not [d for d in events if isinstance(d, ev.Directive) and d.kind == "darker" and start <= d.bar < end]


def test_the_audio_critic_hears_a_hiss_bath_and_asks_for_darker():
    plan = BarPlan(bar=0, bpm=128.0)
    hiss = Hearing(loudness_db=-20.0, centroid_hz=6000.0, kick=0.0, low_end=0.01)
    breakdown = 160  # of a 256-bar set: inside its breakdown (bars 144-175)
    assert arc.phase_at(breakdown, 256, 16)[0] == "breakdown"
    bars = [PlayedBar(bar=b, plan=plan, heard=hiss) for b in range(breakdown - 8, breakdown)]
    darker = [f for f in hear_critique(bars, total_bars=256, every_bars=8) if f.kind == "darker"]
    assert len(darker) == 1
    assert darker[0].data["measure"] == "centroid_hz" and darker[0].data["target"] <= HISS_HZ / 2
    calm = [PlayedBar(bar=b.bar, plan=plan, heard=msgspec.structs.replace(hiss, centroid_hz=900.0)) for b in bars]
    assert not [f for f in hear_critique(calm, total_bars=256, every_bars=8) if f.kind == "darker"]
