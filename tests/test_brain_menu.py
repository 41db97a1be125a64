"""The phrase brain's menu: only moves that apply and change something, gated by the phase; and the brief, read
in code, colours every brain's set."""

from __future__ import annotations

import random

import numpy as np
import pytest
import soundfile as sf

from bergain_actors.actors.conductor import menu
from bergain_actors.actors.conductor.autopilot import Autopilot
from bergain_actors.actors.conductor.brief import Tone, tone
from bergain_actors.core import actor as registry
from bergain_actors.core import events as ev
from bergain_actors.core import scenario as scenarios
from bergain_actors.music.mixer import Mixer, SampleInfo
from tests.brain_support import load, logged, of, play

MENU = {
    role: [SampleInfo(id=f"{role}/{i}.wav", role=role, is_loop=False) for i in range(2)]
    for role in ("kick", "hihat", "bassline", "perc", "clap", "ride")
}


def groove(*roles: str, **patterns: str) -> Mixer:
    mixer = Mixer(MENU)
    for role in roles:
        assert mixer.add(role, 0, 8, menu.PREFERRED_GAIN[role], patterns.get(role, "")) == "ok"
    return mixer


def moment(phase: str, target: float, cap: int = 7, **kwargs) -> menu.Moment:
    return menu.Moment(bar=64, phase=phase, target=target, cap=cap, total=256, **kwargs)


def test_every_option_applies_and_changes_something():
    mixer = groove("kick", "hihat", "bassline")
    options = menu.build(mixer, moment("build", 0.6), Tone(), random.Random(1))
    assert 1 <= len(options) <= menu.SIZE
    for option in options:
        after = menu.attempt(mixer, option, 7, Tone())
        assert after is not None and after.channels != mixer.channels, option.label
    assert len({o.label for o in options}) == len(options)


def test_the_groove_stays_in_the_peak_and_the_kick_everywhere():
    mixer = groove("kick", "hihat", "bassline", "perc", "clap")
    for phase in ("peak", "build", "peak2", "outro", "breakdown"):
        labels = [o.label for o in menu.build(mixer, moment(phase, 0.6), Tone(), random.Random(2))]
        assert not [label for label in labels if "kick" in label and ("out" in label or "plays" in label)], phase
    every = [
        menu.Option(m, r, a, "", 0.0)
        for m, r, a in [
            ("remove", "hihat", {}),
            ("pattern", "hihat", {"name": "sixteenths"}),
            ("pattern", "hihat", {"name": "straight_8ths"}),
        ]
    ]
    peak = moment("peak", 0.7)
    assert [menu.valid(mixer, o, peak, Tone()) for o in every] == [False, True, True]  # sixteenths keep the off-beat
    assert not menu.valid(mixer, menu.Option("pattern", "hihat", {"name": "four_on_floor"}, "", 0.0), peak, Tone())
    assert menu.valid(mixer, every[0], moment("outro", 0.3), Tone()), "the outro may thin the hats out"


def test_no_op_and_big_jumps_are_not_on_the_menu():
    mixer = groove("kick", "hihat")
    same_gain = menu.Option("fader", "hihat", {"gain": mixer.channels["hihat"].gain}, "", 0.0)
    same_pattern = menu.Option("pattern", "hihat", {"name": mixer.channels["hihat"].pattern}, "", 0.0)
    assert not menu.valid(mixer, same_gain, moment("build", 0.5), Tone())
    assert not menu.valid(mixer, same_pattern, moment("build", 0.5), Tone())
    loud = groove("kick", "hihat", "bassline")
    drop_bass = menu.Option("remove", "bassline", {}, "", 0.0)
    assert abs(loud.energy() - groove("kick", "hihat").energy()) > menu.MAX_JUMP
    assert not menu.valid(loud, drop_bass, moment("peak", 0.3), Tone())
    assert menu.valid(loud, drop_bass, moment("peak", 0.3, phrase_start=True), Tone())


def test_the_brief_is_read_in_code():
    dark, bright = tone("Dark, hypnotic Berlin techno"), tone("Bright, euphoric and uplifting")
    assert dark.brightness < 0 < bright.brightness and tone("techno").brightness == 0
    assert dark.gain("hihat", 0.57) < 0.57 < bright.gain("hihat", 0.57)
    assert dark.gain("bassline", 0.6) > 0.6
    mixer = groove("kick", "hihat", "bassline")
    for_dark = menu.build(mixer, moment("build", 0.75), dark, random.Random(3))
    for_bright = menu.build(mixer, moment("build", 0.75), bright, random.Random(3))
    assert for_dark[0].label != for_bright[0].label


def centroid(path) -> float:
    """Power-weighted spectral centroid (Hz) of a WAV, over one-second blocks."""
    audio, rate = sf.read(str(path), dtype="float32")
    mono = audio.mean(axis=1)
    blocks = mono[: len(mono) // rate * rate].reshape(-1, rate)
    spectrum = np.abs(np.fft.rfft(blocks, axis=1)) ** 2
    freqs = np.fft.rfftfreq(rate, 1.0 / rate)
    return float((spectrum * freqs).sum() / spectrum.sum())


@pytest.mark.parametrize("name", ["autopilot.toml", "phrase_scripted.toml", "rlm_scripted.toml"])
async def test_two_briefs_give_measurably_different_sets(tmp_path, name):
    heard = {}
    for brief in ("Dark, deep, hypnotic", "Bright, euphoric, shimmering"):
        scenario, text = load(name, brief=brief)
        scenario = scenarios.replace(
            scenario, minutes=None, bars=96, sample_pack=str(scenario.path(scenario.sample_pack))
        )
        folder = tmp_path / brief.split(",")[0]
        folder.mkdir()
        result = await play(scenario, text, folder)
        plans = [e.plan for e in of(logged(result.log_path), ev.BarPlanned)]
        bright = sum(layer.gain for p in plans for layer in p.layers if layer.role in ("hihat", "ride", "perc", "clap"))
        heard[brief.split(",")[0]] = (centroid(result.wav_path), bright / len(plans))
    (dark_hz, dark_bright), (bright_hz, bright_bright) = heard["Dark"], heard["Bright"]
    assert dark_bright < 0.8 * bright_bright, heard
    assert dark_hz < 0.9 * bright_hz, heard


class SameAgain(Autopilot):
    """Answers every directive by setting the hi-hat's fader to the gain it already has."""

    kind = "same_again"

    def plan_bar(self, bar: int) -> None:
        hats = self.mixer.channels.get("hihat")
        if bar == 4 and hats is not None:
            with self.person_asked():
                self.move("fader", "hihat", bar, gain=hats.gain)
                self.move("pattern", "hihat", bar, name=hats.pattern)
        super().plan_bar(bar)


registry.register("conductor", "same_again", SameAgain)


async def test_a_no_op_is_not_a_move(scenario_factory, tmp_path):
    scenario = scenario_factory(bars=16, conductor={"kind": "same_again"})
    result = await play(scenario, "", tmp_path)
    moves = [m for m in of(logged(result.log_path), ev.MixerMove) if m.bar == 4]
    assert [m.move for m in moves] == ["fader", "pattern"]
    assert all(m.result.startswith("unchanged") for m in moves), [m.result for m in moves]


def test_the_breakdown_is_never_offered_its_kick_or_bass_back():
    mixer = groove("kick", "hihat", "bassline", "perc")
    for role in ("kick", "bassline"):
        assert mixer.mute(role) == "ok"
    for seed in range(5):
        labels = [o.label for o in menu.build(mixer, moment("breakdown", 0.6), Tone(), random.Random(seed))]
        assert labels and not [label for label in labels if "kick" in label or "bassline" in label], labels
    back = menu.Option("unmute", "kick", {}, "bring kick back", 0.0)
    assert not menu.valid(mixer, back, moment("breakdown", 0.6, phrase_start=True), Tone())
    assert menu.valid(mixer, back, moment("peak2", 0.9, phrase_start=True), Tone())  # the drop may bring it back
