"""One definition of a texture, for the benchmark and the brains: which groove layers sound, with which sample and
pattern, held long enough to be heard."""

from __future__ import annotations

from bergain_actors.music import texture
from bergain_actors.music.mixer import Mixer, SampleInfo
from bergain_actors.music.plan import BarPlan, Layer

MENU = {
    role: [SampleInfo(id=f"{role}/a.wav", role=role, is_loop=False), SampleInfo(f"{role}/b.wav", role, False)]
    for role in ("kick", "hihat", "perc", "texture")
}


def bar(n: int, *layers: Layer) -> BarPlan:
    return BarPlan(bar=n, bpm=128, layers=layers)


KICK = Layer("kick", "kick/a.wav", 0.9, hits=(0,), pattern="four_on_floor")
HATS = Layer("hihat", "hihat/a.wav", 0.5, hits=(48,), pattern="offbeat_8ths")


def test_a_sample_or_a_pattern_is_another_texture_a_level_or_an_ornament_is_not():
    base = texture.of_plan(bar(0, KICK, HATS))
    assert texture.of_plan(bar(1, KICK, Layer("hihat", "hihat/a.wav", 0.3, hits=(48,), pattern="offbeat_8ths"))) == base
    assert texture.of_plan(bar(2, KICK, HATS, Layer("fill", "snare/x.wav", 0.3, hits=(0,)))) == base
    assert texture.of_plan(bar(3, KICK, Layer("hihat", "hihat/b.wav", 0.5, pattern="offbeat_8ths"))) != base
    assert texture.of_plan(bar(4, KICK, Layer("hihat", "hihat/a.wav", 0.5, pattern="sixteenths"))) != base
    leaving = Layer("perc", "perc/a.wav", 0.4, gain_end=0.0, pattern="gallop")
    assert texture.of_plan(bar(5, KICK, HATS, leaving)) == base  # silent at the bar's end: it has left


def test_only_textures_held_four_bars_count_and_crossfade_seams_do_not():
    perc = Layer("perc", "perc/a.wav", 0.4, pattern="gallop")
    plans = [bar(i, KICK) for i in range(8)]
    plans += [bar(8, KICK, HATS, perc)]  # a one-bar seam: hats in while the perc has not left yet
    plans += [bar(9 + i, KICK, HATS) for i in range(3)]  # three bars: still not a texture
    plans += [bar(12 + i, KICK, perc) for i in range(4)]
    assert texture.distinct(plans) == 2
    assert texture.distinct_role_sets(plans) == 2
    assert [bars for _, bars in texture.held(plans)] == [8, 1, 3, 4]


def test_the_brains_and_the_benchmark_count_the_same_mix_alike():
    mixer = Mixer(MENU)
    mixer.add("kick", 0, cap=4, gain=0.9)
    mixer.add("hihat", 0, cap=4, gain=0.5, pattern="rolling")
    for n in range(4):
        mixer.plan(n, 128)
    assert mixer.texture() == texture.of_plan(mixer.plan(4, 128))
    mixer.remove("hihat")  # the mixer already hears it gone; the plan once its fade is over
    fading = mixer.plan(5, 128)
    assert texture.of_plan(fading) == mixer.texture()
    assert {layer.role for layer in fading.layers} == {"kick", "hihat"}
