"""The mixer's guardrails: the music never stops, whoever asks, and the caps hold."""

from __future__ import annotations

from bergain_actors.music.mixer import SILENT, Mixer, SampleInfo

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
