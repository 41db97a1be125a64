"""Steers compose: a later steer is not made impossible by an earlier one when the mix allows it, and two steers
answered in one bar never undo each other ("remove hihat, add hihat")."""

from __future__ import annotations

from bergain_actors.core import events as ev
from bergain_actors.music.mixer import Mixer, SampleInfo
from tests.test_control import play, verified


def acted(result) -> dict[str, list[ev.SteerActed]]:
    out: dict[str, list[ev.SteerActed]] = {}
    for event in result.events:
        if isinstance(event, ev.SteerActed):
            out.setdefault(event.intent, []).append(event)
    return out


async def test_breakdown_after_darker_still_breaks_down(scenario_factory, tmp_path, autojump_clock):
    """Seed 2's build has no layer a breakdown keeps once "darker" took the hats out: a pad comes in to carry it
    (before, "nothing possible")."""
    result = await play(scenario_factory(bars=128, seed=2), tmp_path, [(14, "darker"), (18, "breakdown now")])
    steers = acted(result)
    assert steers["darker"][0].action.startswith("remove hihat")
    (breakdown,) = steers["breakdown"]
    assert breakdown.action.startswith("ok: texture in to carry it, dropped kick"), breakdown.action
    plans = {e.plan.bar: e.plan for e in result.events if isinstance(e, ev.BarPlanned)}
    after = plans[breakdown.bar + 2]
    assert {layer.role for layer in after.layers if layer.gain > 0} <= {
        "texture",
        "synth",
        "fx",
        "ride",
        "hihat",
        "bed",
    }
    verified(result)


async def test_darker_and_energy_in_one_bar_never_take_out_and_bring_back_a_layer(
    scenario_factory, tmp_path, autojump_clock
):
    script = [(34, "darker"), (38, "breakdown now"), (42, "darker"), (42, "energy 0.9")]
    result = await play(scenario_factory(bars=128, seed=7), tmp_path, script)
    steers = acted(result)
    darker, energy = steers["darker"][-1], steers["energy_up"][-1]
    assert darker.bar == energy.bar and darker.action.startswith("remove hihat")
    assert "add hihat" not in energy.action and "unmute hihat" not in energy.action, energy.action
    assert energy.action.startswith("target 0.90: add "), energy.action  # the energy still goes up
    same_bar = [e for e in result.events if isinstance(e, ev.MixerMove) and e.bar == darker.bar and e.role == "hihat"]
    done = [m.move for m in same_bar if m.result == "ok"]
    assert "remove" in done and not {"add", "unmute"} & set(done[done.index("remove") :]), done
    verified(result)


def test_the_mixer_refuses_a_layer_back_in_the_bar_it_left():
    menu = {role: [SampleInfo(f"{role}/a.wav", role, False)] for role in ("kick", "hihat")}
    mixer = Mixer(menu)
    assert mixer.add("kick", 0, 4, 0.8) == "ok" and mixer.add("hihat", 0, 4, 0.5) == "ok"
    mixer.plan(0, 128)
    assert mixer.remove("hihat") == "ok"
    assert mixer.add("hihat", 1, 4, 0.5).startswith("refused: hihat was just taken out")
    mixer.plan(1, 128)
    assert mixer.add("hihat", 2, 4, 0.5) == "ok"  # the bar after, it may come back
