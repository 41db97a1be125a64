"""The mixer's guardrails: the music never stops, whoever asks, and the caps hold."""

from __future__ import annotations

from bergain_actors.music.mixer import SILENT, Mixer, SampleInfo, placed
from bergain_actors.music.plan import Layer

MENU = {
    role: [
        SampleInfo(id=f"{role}/a.wav", role=role, is_loop=False),
        SampleInfo(id=f"{role}/b.wav", role=role, is_loop=False),
    ]
    for role in ("kick", "hihat", "clap", "perc", "texture", "synth", "ride", "bassline")
}


def test_the_last_audible_layer_cannot_be_removed_or_muted():
    mixer = Mixer(MENU)
    assert mixer.add("kick", 0, cap=3, gain=0.9) == "ok"
    assert mixer.add("hihat", 0, cap=3, gain=0.5) == "ok"
    assert mixer.mute("hihat") == "ok"
    assert mixer.remove("kick") == SILENT
    assert mixer.mute("kick") == SILENT
    assert mixer.remove("hihat") == "ok"  # muted: removing it silences nothing
    assert [c.role for c in mixer.audible()] == ["kick"]


def test_density_and_gain_caps():
    mixer = Mixer(MENU)
    for role in ("kick", "hihat", "clap"):
        assert mixer.add(role, 0, cap=3, gain=0.5) == "ok"
    assert mixer.add("perc", 0, cap=3, gain=0.5).startswith("refused: 3 layers")
    assert mixer.add("texture", 0, cap=6, gain=0.9) == "clamped: texture gain 0.9 → 0.55"
    assert mixer.fader("kick", 0.0).startswith("refused: gain must be above 0")
    assert mixer.pattern("kick", "polka").startswith("refused: unknown pattern")


def test_an_added_layer_fades_in_from_the_next_bar_and_the_kick_cuts_in_on_the_one():
    mixer = Mixer(MENU)
    mixer.plan(7, 128)
    assert mixer.add("kick", 8, cap=4, gain=0.9) == "ok"
    assert mixer.add("bassline", 8, cap=4, gain=0.6) == "ok"
    bars = [{layer.role: layer for layer in mixer.plan(bar, 128).layers} for bar in range(8, 12)]
    assert [b["kick"].gain for b in bars] == [0.9] * 4 and bars[0]["kick"].gain_end is None
    ramp = [(b["bassline"].gain, b["bassline"].gain_end) for b in bars[:2]]
    assert ramp == [(0.0, 0.3), (0.3, 0.6)]
    assert bars[0]["bassline"].filter.kind == "lowpass"
    assert bars[0]["bassline"].filter.hz < bars[0]["bassline"].filter.hz_end <= bars[1]["bassline"].filter.hz
    assert (
        bars[2]["bassline"].gain == 0.6 and bars[2]["bassline"].gain_end is None and bars[2]["bassline"].filter is None
    )


def test_a_removed_layer_fades_out_under_a_rising_highpass_and_a_fader_glides():
    mixer = Mixer(MENU)
    for role in ("kick", "texture"):
        mixer.add(role, 0, cap=4, gain=0.5)
    for bar in range(8):
        mixer.plan(bar, 128)
    assert mixer.remove("texture") == "ok"
    assert "texture" not in mixer.channels
    leaving = [next((la for la in mixer.plan(bar, 128).layers if la.role == "texture"), None) for bar in range(8, 14)]
    assert [(la.gain, la.gain_end) for la in leaving[:2]] == [(0.5, 0.25), (0.25, 0.0)]
    assert all(la.filter.kind == "highpass" for la in leaving[:2])
    assert leaving[2:] == [None] * 4
    before = dict(mixer.channels)
    assert mixer.fader("kick", 0.5) == "ok" and mixer.channels == before  # its own level: nothing moves
    assert mixer.fader("kick", 0.7) == "ok"
    kick = [next(la for la in mixer.plan(bar, 128).layers if la.role == "kick") for bar in (14, 15, 16)]
    assert [(k.gain, k.gain_end) for k in kick] == [(0.5, 0.6), (0.6, 0.7), (0.7, None)]


def test_stereo_places_survive_from_mixer_to_plan_and_back():
    mixer = Mixer(MENU)
    for role in ("kick", "bassline", "hihat", "perc", "texture"):
        mixer.add(role, 0, cap=6, gain=0.5)
    mixer.swap("hihat", 0, choice=1)
    layers = {layer.role: layer for layer in mixer.plan(0, 128).layers}
    assert layers["kick"].pan == layers["bassline"].pan == 0.0 and layers["kick"].width == 0.0
    assert layers["kick"].reverb == layers["bassline"].reverb == layers["bassline"].width == 0.0  # mono and dry
    assert layers["texture"].reverb > 0 and layers["perc"].reverb > 0
    assert abs(layers["hihat"].pan) == 0.35 and abs(layers["perc"].pan) == 0.5
    assert layers["texture"].width > 0.5 and layers["perc"].send > 0
    hats = ("hat_closed_metal", "hat_closed_soft", "hat_closed_tight", "hat_open_808", "hat_open_fm")
    sides = {placed(Layer("hihat", f"hihat/{name}.wav", 0.5)).pan for name in hats}
    assert sides == {0.35, -0.35}  # the side alternates with the sample
    rebuilt = Mixer.from_plan(mixer.plan(30, 128), MENU)
    assert {r: (c.layer.pan, c.layer.width) for r, c in rebuilt.channels.items()} == {
        r: (c.layer.pan, c.layer.width) for r, c in mixer.channels.items()
    }
