"""Samples keep the key: what a sample sounds (its name, else its chroma), and a set in another key that never plays
a sample off it, however it swaps."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest

from bergain_actors.assess import played_plans
from bergain_actors.cli import main
from bergain_actors.core import events as ev
from bergain_actors.core import scenario as scenarios
from bergain_actors.music import keys, texture
from bergain_actors.music.mixer import Mixer, menu_from_pack, off_key
from bergain_actors.music.pack import SamplePack, index_pack
from tests.brain_support import load, logged, of, play

SHIPPED = Path(__file__).resolve().parent.parent / "sample_pack"
RATE = 44100
A, C, D, E, F, G, B = 9, 0, 2, 4, 5, 7, 11


@pytest.fixture(scope="module")
def shipped() -> SamplePack:
    return index_pack(SHIPPED, RATE)


def tones(*hz: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    mono = sum(np.sin(2 * math.pi * f * t) * np.exp(-t * 3) for f in hz)
    return np.stack([mono, mono], axis=1).astype(np.float32)


def test_a_name_gives_a_note_or_a_chord():
    assert keys.from_name("kick_deep_F") == (F,)
    assert keys.from_name("bass_pluck_C2") == (C,)
    assert keys.from_name("stab_Dm7_chord") == (C, D, F, A)
    assert keys.from_name("pad_Am9_128bpm_4bar_loop") == (C, E, G, A, B)
    assert keys.from_name("Bb_minor_stab") == (10,)
    for stem in ("hat_open_808", "clap_909", "FX_riser", "tom_low", "drum_loop_groove_128bpm_2bar_loop"):
        assert keys.from_name(stem) is None, stem


def test_the_estimate_hears_notes_chords_and_no_pitch_in_noise():
    assert keys.estimate(tones(110.0), RATE) == (A,)
    assert keys.estimate(tones(261.63, 329.63, 392.0), RATE) == (C, E, G)
    noise = np.random.default_rng(3).standard_normal((RATE, 2)).astype(np.float32)
    assert keys.estimate(noise, RATE) == ()
    assert keys.estimate(np.zeros((RATE, 2), np.float32), RATE) == ()


def test_on_the_shipped_pack_the_estimate_agrees_with_the_names(shipped):
    named = [s for s in shipped.samples.values() if s.role in ("bass", "synth") and s.pitch_from == "name"]
    assert len(named) == 7
    for sample in named:
        heard = keys.estimate(sample.data, RATE)
        assert heard and set(heard) <= set(sample.pitches), (sample.id, heard, sample.pitches)
    pad = shipped.samples["texture/pad_Am9_128bpm_4bar_loop.wav"]  # Am9 Fmaj7 Am9 Em7: the name gives the first
    assert set(pad.pitches) < set(keys.estimate(pad.data, RATE)) <= keys.scale_of("A minor")
    unnamed = {s.id: s for s in shipped.samples.values() if s.pitch_from == "estimate"}
    assert set(unnamed["synth/stab_rave_fifths.wav"].pitches) == {A, E}  # A3 E4 A4
    assert all(s.pitches == () for s in shipped.by_role("hihat") + shipped.by_role("clap"))  # noise: no pitch


def test_a_swap_keeps_the_key(shipped):
    full, e_minor = menu_from_pack(shipped), menu_from_pack(shipped, "E minor")
    assert {i.id for i in full["kick"]} - {i.id for i in e_minor["kick"]} == {"kick/kick_deep_F.wav"}  # F ∉ E minor
    assert {i.id for i in full["synth"]} - {i.id for i in e_minor["synth"]} == {"synth/stab_Dm7_chord.wav"}
    assert menu_from_pack(shipped, "A minor") == full  # the shipped pack is in A minor
    assert e_minor["hihat"] == full["hihat"]  # drums fit any key
    mixer = Mixer(e_minor)
    mixer.add("kick", 0, cap=4, gain=0.9)
    mixer.add("synth", 0, cap=4, gain=0.4)
    for seed in range(40):
        for role in ("kick", "synth"):
            assert mixer.swap(role, seed, rand=random.Random(seed)) == "ok"
            assert mixer.channels[role].sample not in ("kick/kick_deep_F.wav", "synth/stab_Dm7_chord.wav")
    assert mixer.swap("kick", 0, choice=len(e_minor["kick"])).startswith("refused")


def test_a_key_the_pack_cannot_play_keeps_the_nearest_samples_and_says_which_roles(shipped):
    f_sharp = menu_from_pack(shipped, "F# major")
    assert [i.id for i in f_sharp["kick"]] == ["kick/kick_deep_F.wav"]  # E# is in F# major
    assert off_key(shipped, "F# major") == ["bass", "bassline", "synth", "texture"]
    assert len(f_sharp["bass"]) >= 1 and off_key(shipped, "E minor") == []


def test_a_set_in_a_key_the_pack_cannot_play_says_so(tmp_path, capsys):
    text = (SHIPPED.parent / "scenarios" / "autopilot.toml").read_text()
    text = text.replace('sample_pack = "../sample_pack"', f'sample_pack = "{SHIPPED}"\nkey = "F# major"')
    (tmp_path / "fsharp.toml").write_text(text)
    argv = ["run", str(tmp_path / "fsharp.toml"), "--bars", "16", "--fast", "--no-audio", "--no-report"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    unfit = ["bass", "bassline", "synth", "texture"]
    for role in unfit:
        assert f"no {role} sample fits F# major; the set plays the nearest ones" in captured.err
    assert "no kick sample" not in captured.err
    assert f"off key      {', '.join(unfit)}: no sample fits the key" in captured.out + captured.err  # the summary
    (log_path,) = (tmp_path / "out").glob("*.bgnlog")
    said = [(e.role, e.key) for e in of(logged(log_path), ev.KeyUnfit)]
    assert said == [(role, "F# major") for role in unfit]  # logged as events, not only printed
    assert main(["replay", str(log_path), "--verify"]) == 0


async def test_a_set_in_e_minor_never_plays_a_sample_off_its_key(tmp_path):
    scenario, text = load("autopilot.toml")
    scenario = scenarios.replace(scenario, minutes=8.0, bars=None, key="E minor")
    result = await play(scenario, text, tmp_path)
    events = logged(result.log_path)
    plans = played_plans(events)
    played = {layer.sample for plan in plans for layer in plan.layers}
    assert not played & {"kick/kick_deep_F.wav", "synth/stab_Dm7_chord.wav"}
    swaps = [m for m in of(events, ev.MixerMove) if m.move == "swap" and m.result == "ok"]
    assert swaps and texture.distinct(plans) >= 16
    assert main(["replay", str(result.log_path), "--wav", str(tmp_path / "again.wav"), "--verify"]) == 0
    assert (tmp_path / "again.wav").read_bytes() == result.wav_path.read_bytes()
