"""The renderer: sample-exact timing, carried tails, multi-bar and tempo-matched loops, a transparent limiter."""

from __future__ import annotations

import hashlib
import itertools
import math
from fractions import Fraction
from pathlib import Path

import msgspec
import numpy as np
import pytest
import soundfile as sf

from bergain_actors.music import effects, measure, render
from bergain_actors.music.arrangement import bed
from bergain_actors.music.mixer import menu_from_pack, placed
from bergain_actors.music.pack import SamplePack, index_pack
from bergain_actors.music.patterns import pattern_hits
from bergain_actors.music.plan import TICKS_PER_BEAT, BarPlan, Layer
from bergain_actors.music.render import MASTER_GAIN, TRIMS, Renderer, forget_copies

SR = 44100
SHIPPED = Path(__file__).resolve().parent.parent / "sample_pack"


def _bar_exact(bpm: float, beats: int = 4) -> Fraction:
    return Fraction(beats * 60 * SR) / Fraction(str(bpm))


def _write(root: Path, rel: str, data: np.ndarray) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, SR, subtype="FLOAT")


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> SamplePack:
    """Small, exactly representable test sounds: decaying noise one-shots, stepped loops, beat bursts."""
    root = tmp_path_factory.mktemp("render_pack")
    rng = np.random.default_rng(1)
    decay = np.exp(-np.arange(20000) / 3000.0)
    _write(root, "kick/k.wav", (rng.standard_normal(20000) * 0.3 * decay).astype(np.float32))
    _write(root, "hihat/h.wav", (rng.standard_normal((3000, 2)) * 0.1).astype(np.float32))
    _write(root, "fx/long.wav", (rng.standard_normal((3 * SR, 2)) * 0.1).astype(np.float32))
    _write(root, "perc/dc.wav", np.full(5000, 0.25, np.float32))
    bar = _bar_exact(128)
    steps = np.zeros(round(4 * bar), np.float32)
    for j in range(4):
        steps[math.floor(j * bar) : math.floor((j + 1) * bar)] = 0.1 * (j + 1)
    _write(root, "texture/steps_128bpm_4bar_loop.wav", steps)
    slow = np.zeros(88200, np.float32)
    for beat in range(4):
        slow[beat * 22050 : beat * 22050 + 40] = np.hanning(40)
    _write(root, "drum_loop/beats_120bpm_1bar_loop.wav", slow)
    return index_pack(root, SR)


def _plan(bar: int, *layers: Layer, bpm: float = 128.0) -> BarPlan:
    return BarPlan(bar=bar, bpm=bpm, layers=tuple(layers))


def _reference(pack: SamplePack, plans: list[BarPlan]) -> list[np.ndarray]:
    """Independent model: place every gained hit on one long timeline at floor(exact time), then cut bars."""
    starts = [Fraction(0)]
    for p in plans:
        starts.append(starts[-1] + _bar_exact(p.bpm, p.beats_per_bar))
    timeline = np.zeros((math.floor(starts[-1]) + 4 * SR, 2), np.float64)
    for p, start in zip(plans, starts, strict=False):
        for layer in p.layers:
            data = pack.samples[layer.sample].data.astype(np.float64)
            theta = (layer.pan + 1) * math.pi / 4
            gains = np.array([math.cos(theta), math.sin(theta)]) * math.sqrt(2) * layer.gain
            if layer.pan == 0:
                gains = np.array([layer.gain, layer.gain])
            for tick in layer.hits:
                at = math.floor(start + Fraction(tick * 60 * SR) / (Fraction(str(p.bpm)) * TICKS_PER_BEAT))
                timeline[at : at + data.shape[0]] += data * gains
    return [timeline[math.floor(a) : math.floor(b)] for a, b in itertools.pairwise(starts)]


def test_bars_match_an_independent_reference_and_the_limiter_stays_out(pack: SamplePack) -> None:
    kick = Layer("kick", "kick/k.wav", 0.8, hits=pattern_hits("four_on_floor"))
    hat = Layer("hihat", "hihat/h.wav", 0.6, hits=pattern_hits("offbeat_16ths"), pan=-0.5)
    tail = Layer("fx", "fx/long.wav", 0.5, hits=(380,), pan=0.3)
    plans = [_plan(0, kick, hat), _plan(1, kick, tail), _plan(2, hat, bpm=133.7), _plan(3, kick, bpm=133.7)]
    renderer = Renderer(pack, SR, master=1.0, trims={})
    for plan, expected in zip(plans, _reference(pack, plans), strict=True):
        got = renderer.render(plan)
        assert got.dtype == np.float32 and got.shape == expected.shape and got.flags.c_contiguous
        np.testing.assert_allclose(got, expected, atol=2e-6, rtol=0)
        assert renderer.last_stats.limited_frames == 0 and renderer.last_stats.gain_reduction_db == 0.0
    assert renderer.limiter_engaged_frames == 0


def test_a_loop_played_as_a_one_shot_rings_whole_across_the_bars_after_it(pack: SamplePack) -> None:
    """The accumulator is sized by each bar's longest one-shot: a 4-bar loop hit as a one-shot (longer than any
    one-shot of the pack) grows it, and the short bars after it, which need less, keep its tail whole."""
    kick = Layer("kick", "kick/k.wav", 0.8, hits=pattern_hits("four_on_floor"))
    steps = Layer("texture", "texture/steps_128bpm_4bar_loop.wav", 0.5, hits=(380,))
    plans = [_plan(0, kick), _plan(1, kick, steps)] + [_plan(bar, kick) for bar in range(2, 9)]
    renderer = Renderer(pack, SR, master=1.0, trims={})
    for plan, expected in zip(plans, _reference(pack, plans), strict=True):
        np.testing.assert_allclose(renderer.render(plan), expected, atol=2e-6, rtol=0)


def test_hit_onsets_are_sample_exact_at_odd_tempos(pack: SamplePack) -> None:
    renderer = Renderer(pack, SR, master=1.0, trims={})
    dc = Layer("perc", "perc/dc.wav", 1.0, hits=(0, 37, 200))
    for bar in range(5):
        start = renderer.frame_position
        out = renderer.render(_plan(bar, dc, bpm=127.3))[:, 0]
        first = math.floor(start)
        for tick in (0, 37, 200):
            onset = math.floor(start + tick * Fraction(60 * SR) / (Fraction("127.3") * TICKS_PER_BEAT)) - first
            assert out[onset] >= 0.25 - 1e-6 and (onset == 0 or out[onset - 1] in (0.0, 0.25, 0.5))


def test_one_shot_tail_continues_into_the_next_bar(pack: SamplePack) -> None:
    renderer = Renderer(pack, SR, master=1.0, trims={})
    long = pack.samples["fx/long.wav"].data
    bar0 = renderer.render(_plan(0, Layer("fx", "fx/long.wav", 1.0, hits=(4 * TICKS_PER_BEAT - 6,))))
    onset = math.floor(Fraction(4 * TICKS_PER_BEAT - 6, TICKS_PER_BEAT) * 60 * SR / 128)
    played = bar0.shape[0] - onset
    np.testing.assert_array_equal(bar0[onset:], long[:played])
    bar1 = renderer.render(_plan(1))
    np.testing.assert_array_equal(bar1, long[played : played + bar1.shape[0]])
    bar2 = renderer.render(_plan(2))
    rest = long.shape[0] - played - bar1.shape[0]
    np.testing.assert_array_equal(bar2[:rest], long[played + bar1.shape[0] :])
    assert not bar2[rest:].any()


def test_empty_plan_renders_silence(pack: SamplePack) -> None:
    out = Renderer(pack, SR, master=1.0, trims={}).render(_plan(0))
    assert out.shape == (82687, 2) and out.dtype == np.float32 and not out.any()


def test_multi_bar_loop_walks_through_its_bars(pack: SamplePack) -> None:
    renderer = Renderer(pack, SR, master=1.0, trims={})
    steps = "texture/steps_128bpm_4bar_loop.wav"
    for bar in range(10):
        layer = Layer("texture", steps, 1.0, kind="loop", loop_start_bar=1)
        out = renderer.render(_plan(bar, layer))
        loop_bar = (bar - 1) % 4
        assert np.median(out[:, 0]) == pytest.approx(0.1 * (loop_bar + 1), abs=1e-6), bar
        assert np.count_nonzero(np.abs(out[:, 0] - 0.1 * (loop_bar + 1)) > 1e-6) <= 1, bar
    third = renderer.render(_plan(12, Layer("texture", steps, 1.0, kind="loop", loop_start_bar=10)))
    assert np.median(third) == pytest.approx(0.3, abs=1e-6)


def test_loop_at_another_tempo_is_stretched_to_exactly_one_bar(pack: SamplePack) -> None:
    renderer = Renderer(pack, SR, master=1.0, trims={})
    beats = Layer("drum_loop", "drum_loop/beats_120bpm_1bar_loop.wav", 0.8, kind="loop")
    bars = [renderer.render(_plan(b, beats)) for b in range(3)]
    beat_frames = 60 * SR / 128
    for out in bars:
        # bursts found where the beats of a 128 BPM bar are: the loop now lasts exactly one bar
        peaks = [int(np.argmax(out[round(i * beat_frames) : round(i * beat_frames) + 200, 0])) for i in range(4)]
        expected = [round(19.5 * 120 / 128 + (i * beat_frames - round(i * beat_frames))) for i in range(4)]
        assert all(abs(p - e) <= 2 for p, e in zip(peaks, expected, strict=True)), (peaks, expected)
        assert out[:, 0].max() > 0.7
    same = Renderer(pack, SR, master=1.0, trims={}).render(
        _plan(0, Layer("texture", "texture/steps_128bpm_4bar_loop.wav", 1.0, "loop"))
    )
    np.testing.assert_array_equal(same, pack.samples["texture/steps_128bpm_4bar_loop.wav"].data[:82687])


def test_absurd_gains_never_exceed_full_scale(pack: SamplePack) -> None:
    renderer = Renderer(pack, SR, master=1.0, trims={})
    loud = (
        Layer("kick", "kick/k.wav", 50.0, hits=pattern_hits("sixteenths")),
        Layer("texture", "texture/steps_128bpm_4bar_loop.wav", 30.0, kind="loop"),
        Layer("fx", "fx/long.wav", 1000.0, hits=(0, 100), pan=1.0),
    )
    for bar in range(4):
        out = renderer.render(_plan(bar, *loud))
        stats = renderer.last_stats
        # the final safety clip would cap any peak at 1.0: the limiter alone must keep it under its -1 dB threshold
        threshold = 10 ** (-1.0 / 20)
        assert stats.peak == pytest.approx(float(np.abs(out).max()), abs=1e-6)
        assert stats.peak <= threshold + 1e-6, stats.peak
        assert stats.gain_reduction_db > 20.0 and stats.limited_frames > 0
        assert stats.clipped_samples == 0
    assert renderer.limiter_engaged_frames >= 4 * 82687 - 1
    # after the loud part the limiter releases, then is bit-transparent again
    hat = Layer("hihat", "hihat/h.wav", 0.5, hits=pattern_hits("offbeat_8ths"))
    bar = 4
    while renderer.limiter.gain_db < 0.0 and bar < 40:
        renderer.render(_plan(bar, hat))
        bar += 1
    assert renderer.limiter.gain_db == 0.0
    reference = Renderer(pack, SR, master=1.0, trims={})
    for b in range(bar):
        reference.render(_plan(b))
    nxt = _plan(bar, hat)
    np.testing.assert_array_equal(renderer.render(nxt), reference.render(nxt))


def test_limiter_is_smooth(pack: SamplePack) -> None:
    renderer = Renderer(pack, SR, master=1.0, trims={})
    out = renderer.render(_plan(0, Layer("perc", "perc/dc.wav", 8.0, hits=(0, 192))))
    # a constant 2.0 input becomes a gain curve: no jumps bigger than the attack ramp allows
    assert np.abs(out).max() <= renderer.limiter.threshold + 1e-6
    assert np.abs(np.diff(out[:4000, 0])).max() < 0.05


def _varied_plans() -> list[BarPlan]:
    kick = Layer("kick", "kick/k.wav", 0.9, hits=pattern_hits("four_on_floor"))
    hat = Layer("hihat", "hihat/h.wav", 0.7, hits=pattern_hits("sixteenths"), pan=0.4)
    steps = Layer("texture", "texture/steps_128bpm_4bar_loop.wav", 2.5, kind="loop")
    stretched = Layer("drum_loop", "drum_loop/beats_120bpm_1bar_loop.wav", 0.8, kind="loop", pan=-0.7)
    missing = Layer("synth", "synth/not_there.wav", 0.5, hits=(0,))
    return [_plan(b, kick, hat, steps, stretched, missing, bpm=128.0 if b < 5 else 131.5) for b in range(9)]


def test_same_plans_give_identical_bytes(pack: SamplePack) -> None:
    digests = []
    for _ in range(2):
        renderer = Renderer(pack, SR, master=1.0, trims={})
        h = hashlib.sha256()
        for plan in _varied_plans():
            h.update(renderer.render(plan).tobytes())
        digests.append(h.hexdigest())
        assert renderer.last_stats.skipped_layers == 1
        assert renderer.limiter_engaged_frames > 0
    assert digests[0] == digests[1]


def test_no_drift_over_1000_bars(pack: SamplePack) -> None:
    renderer = Renderer(pack, SR, master=1.0, trims={})
    total = sum(renderer.render(_plan(b)).shape[0] for b in range(1000))
    assert total == round(1000 * 1.875 * SR)
    assert renderer.frame_position == 1000 * _bar_exact(128)
    odd = Renderer(pack, SR, master=1.0, trims={})
    total = sum(odd.render(_plan(b, bpm=127.3)).shape[0] for b in range(1000))
    assert total == math.floor(1000 * _bar_exact(127.3))


def test_unknown_samples_and_out_of_range_hits_are_skipped(pack: SamplePack) -> None:
    renderer = Renderer(pack, SR, master=1.0, trims={})
    out = renderer.render(
        _plan(0, Layer("kick", "kick/missing.wav", 1.0, hits=(0,)), Layer("perc", "perc/dc.wav", 1.0, hits=(0, 384)))
    )
    assert renderer.last_stats.skipped_layers == 1 and renderer.last_stats.skipped_hits == 1
    assert out[0, 0] == pytest.approx(0.25)


def test_constant_power_pan(pack: SamplePack) -> None:
    renderer = Renderer(pack, SR, master=1.0, trims={})
    left = renderer.render(_plan(0, Layer("perc", "perc/dc.wav", 0.5, hits=(0,), pan=-1.0)))
    assert left[10, 1] == pytest.approx(0.0, abs=1e-7) and left[10, 0] == pytest.approx(0.25 * math.sqrt(2) * 0.5)
    mid = renderer.render(_plan(1, Layer("perc", "perc/dc.wav", 0.5, hits=(0,), pan=0.5)))
    assert mid[10, 0] ** 2 + mid[10, 1] ** 2 == pytest.approx(2 * (0.25 * 0.5) ** 2, rel=1e-5)


def test_renders_the_shipped_pack_fast_enough_and_clean() -> None:
    shipped = index_pack(SHIPPED, SR)
    renderer = Renderer(shipped, SR)
    layers = (
        Layer("kick", "kick/kick_punch_A.wav", 0.9, hits=pattern_hits("four_on_floor")),
        Layer("hihat", "hihat/hat_closed_tight.wav", 0.57, hits=pattern_hits("offbeat_8ths")),
        Layer("bassline", "bassline/bassline_rolling_A_128bpm_1bar_loop.wav", 0.67, kind="loop"),
        Layer("texture", "texture/pad_Am9_128bpm_4bar_loop.wav", 0.38, kind="loop"),
    )
    for bar in range(8):
        out = renderer.render(_plan(bar, *layers))
        assert 0.05 < renderer.last_stats.rms < 0.7
        assert np.abs(out).max() <= 1.0 and renderer.last_stats.clipped_samples == 0


def test_master_headroom_scales_the_mix_below_the_limiter(pack: SamplePack) -> None:
    plan = _plan(0, Layer("kick", "kick/k.wav", 0.9, hits=pattern_hits("four_on_floor")))
    unity = Renderer(pack, SR, master=1.0, trims={}).render(plan)
    default = Renderer(pack, SR, trims={}).render(plan)
    assert MASTER_GAIN == 0.5
    np.testing.assert_allclose(default, unity * MASTER_GAIN, rtol=0, atol=1e-7)


def test_the_house_mix_trims_each_role_on_top_of_its_fader(pack: SamplePack) -> None:
    kick = _plan(0, Layer("kick", "kick/k.wav", 0.9, hits=pattern_hits("four_on_floor")))
    hats = _plan(0, Layer("hihat", "hihat/h.wav", 0.5, hits=pattern_hits("offbeat_8ths")))
    for plan, role in ((kick, "kick"), (hats, "hihat")):
        bare = Renderer(pack, SR, trims={}).render(plan)
        mixed = Renderer(pack, SR).render(plan)
        np.testing.assert_allclose(mixed, bare * TRIMS[role], rtol=0, atol=1e-6)
    assert TRIMS["kick"] < 1.0 < TRIMS["hihat"]


# --- automation and effects ---------------------------------------------------------------------------------------


def _band_energy(x: np.ndarray, lo: float, hi: float) -> float:
    spectrum = np.abs(np.fft.rfft(x.mean(axis=1))) ** 2
    freqs = np.fft.rfftfreq(x.shape[0], 1 / SR)
    return float(spectrum[(freqs >= lo) & (freqs < hi)].sum())


def test_a_lowpass_sweep_opens_beat_by_beat_and_a_highpass_thins(pack: SamplePack) -> None:
    from bergain_actors.music.plan import Filter

    hats = dict(hits=pattern_hits("sixteenths"))
    dry = Renderer(pack, SR).render(_plan(0, Layer("hihat", "hihat/h.wav", 0.6, **hats)))
    sweep = Filter("lowpass", 300.0, 12000.0, q=1.2)
    wet = Renderer(pack, SR).render(_plan(0, Layer("hihat", "hihat/h.wav", 0.6, filter=sweep, **hats)))
    beat = dry.shape[0] // 4
    first, last = slice(0, beat), slice(3 * beat, 4 * beat)
    assert _band_energy(wet[first], 3000, 20000) < 0.02 * _band_energy(dry[first], 3000, 20000)
    assert _band_energy(wet[last], 3000, 20000) > 10 * _band_energy(wet[first], 3000, 20000)
    thin = Filter("highpass", 4000.0, 4000.0)
    high = Renderer(pack, SR).render(_plan(0, Layer("kick", "kick/k.wav", 0.8, hits=(0,), filter=thin)))
    full = Renderer(pack, SR).render(_plan(0, Layer("kick", "kick/k.wav", 0.8, hits=(0,))))
    assert _band_energy(high, 20, 1000) < 0.01 * _band_energy(full, 20, 1000)


def test_gain_ramps_fade_hits_and_loops_across_the_bar(pack: SamplePack) -> None:
    dc = Layer("perc", "perc/dc.wav", 0.0, hits=(0, 192), gain_end=0.8)
    out = Renderer(pack, SR, trims={}).render(_plan(0, dc))
    half = out.shape[0] // 2
    assert out[10, 0] == 0.0  # the hit at tick 0 plays at the ramp's start: silent
    assert out[half + 10, 0] == pytest.approx(0.25 * 0.4 * MASTER_GAIN, rel=1e-4)  # tick 192: halfway up
    loop = Layer("texture", "texture/steps_128bpm_4bar_loop.wav", 1.0, kind="loop", gain_end=0.0)
    faded = Renderer(pack, SR).render(_plan(0, loop))
    eighth = faded.shape[0] // 8
    levels = [float(faded[i * eighth + eighth // 2, 0]) for i in range(8)]
    assert levels == sorted(levels, reverse=True) and levels[0] > 5 * levels[-1] > 0


def test_pan_and_width_reach_the_speakers(pack: SamplePack) -> None:
    left = Renderer(pack, SR).render(_plan(0, Layer("perc", "perc/dc.wav", 0.5, hits=(0,), pan=-1.0)))
    assert float(np.abs(left[:, 1]).max()) < 1e-6 < float(np.abs(left[:, 0]).max())
    narrow = Renderer(pack, SR).render(_plan(0, Layer("fx", "kick/k.wav", 0.5, hits=(0,))))
    wide = Renderer(pack, SR).render(_plan(0, Layer("fx", "kick/k.wav", 0.5, hits=(0,), width=1.0)))
    assert measure.stereo_correlation(narrow) == pytest.approx(1.0) and measure.stereo_correlation(wide) < 0.1
    assert float(np.sum(wide.astype(np.float64) ** 2)) == pytest.approx(
        float(np.sum(narrow.astype(np.float64) ** 2)), rel=0.02
    )


def test_width_keeps_the_mono_sum_and_the_low_end_in_the_middle() -> None:
    """Mid/side width: the mono sum keeps its waveform (no comb filter), the power stays, the side holds nothing of
    a 50 Hz tone and most of a hi-hat's noise."""
    rng = np.random.default_rng(3)
    t = np.arange(SR) / SR
    tone = 0.5 * np.sin(2 * np.pi * 50 * t)
    noise = 0.1 * rng.standard_normal(SR)
    mono = np.stack([tone + noise, tone + noise], axis=1).astype(np.float32)
    wide = effects.spread(mono, 1.0, 0.0, SR, circular=True).astype(np.float64)
    summed, original = wide[:, 0] + wide[:, 1], 2 * mono[:, 0].astype(np.float64)
    scale = float(summed @ original) / float(original @ original)
    np.testing.assert_allclose(summed, scale * original, atol=1e-4)
    assert float(np.sum(wide**2)) == pytest.approx(float(np.sum(mono.astype(np.float64) ** 2)), rel=1e-4)
    side = (wide[:, 0] - wide[:, 1]) / 2
    assert _band_energy(side[:, None], 40, 60) < 1e-3 * _band_energy(wide, 40, 60)
    assert _band_energy(side[:, None], 2000, 20000) > 0.3 * _band_energy(wide, 2000, 20000)
    np.testing.assert_allclose(effects.spread(mono, 0.0, 0.0, SR, circular=True), mono, atol=1e-6)


def test_reverb_tails_are_decorrelated_decay_and_carry_no_low_end() -> None:
    click = np.zeros((4410, 2), np.float32)
    click[0] = 1.0
    out = effects.spread(click, 0.0, 0.5, SR, circular=False).astype(np.float64)
    assert out.shape[0] == 4410 + effects._impulse(SR).shape[0]
    tail = out[4410:]
    early, late = tail[: SR // 4], tail[-SR // 4 :]
    assert float(np.sum(late**2)) < 1e-3 * float(np.sum(early**2)) and float(np.sum(early**2)) > 0.0
    assert abs(measure.stereo_correlation(tail)) < 0.1
    assert _band_energy(tail, 20, 80) < 0.01 * _band_energy(tail, 300, 3000)
    looped = effects.spread(click, 0.0, 0.5, SR, circular=True)
    assert looped.shape == click.shape  # a loop's tail wraps into itself: its steady state


def test_kick_and_bass_stay_mono_and_dry_in_a_placed_peak(tmp_path: Path) -> None:
    """The mixer's placement on the shipped pack: a peak groove is stereo above the low end, while the kick and
    the bass alone render bit-identical left and right."""
    shipped = index_pack(SHIPPED, SR)
    low = (
        placed(Layer("kick", "kick/kick_punch_A.wav", 0.9, hits=pattern_hits("four_on_floor"))),
        placed(Layer("bassline", "bassline/bassline_acid_A_128bpm_2bar_loop.wav", 0.67, kind="loop")),
    )
    tops = tuple(
        placed(layer)
        for layer in (
            Layer("hihat", "hihat/hat_closed_tight.wav", 0.57, hits=pattern_hits("offbeat_8ths")),
            Layer("clap", "clap/clap_909.wav", 0.47, hits=pattern_hits("backbeat")),
            Layer("perc", "perc/rim_shot.wav", 0.42, hits=pattern_hits("syncopated_a")),
            Layer("synth", "synth/stab_Am9_dub.wav", 0.4, hits=pattern_hits("sparse_accent")),
            Layer("texture", "texture/pad_Am9_128bpm_4bar_loop.wav", 0.4, kind="loop"),
        )
    )
    alone, full = Renderer(shipped, SR), Renderer(shipped, SR)
    mono = np.concatenate([alone.render(_plan(bar, *low)) for bar in range(8)])
    mix = np.concatenate([full.render(_plan(bar, *low, *tops)) for bar in range(8)])
    assert np.array_equal(mono[:, 0], mono[:, 1])
    assert measure.highs_correlation(measure.blocks(mix, SR)) < 0.8  # main before the reverb and M/S width: 0.86
    assert measure.stereo_correlation(mix) < 0.97  # 0.976: the kick and the bass are most of the power


def test_sends_echo_from_the_other_side_a_dotted_eighth_later_and_die_away(pack: SamplePack) -> None:
    renderer = Renderer(pack, SR)
    ping = Layer("perc", "perc/dc.wav", 0.5, hits=(0,), pan=-1.0, send=0.5)
    bars = [renderer.render(_plan(0, ping))] + [renderer.render(_plan(b)) for b in range(1, 5)]
    audio = np.concatenate(bars)
    delay = math.floor(_bar_exact(128) * 3 / 16)
    assert float(np.abs(audio[delay - 100 : delay - 10, 1]).max()) == 0.0
    assert float(np.abs(audio[delay + 100 : delay + 4000, 1]).min()) > 0.02  # first repeat: right
    assert float(np.abs(audio[2 * delay + 100 : 2 * delay + 4000, 0]).min()) > 0.005  # second: left again
    assert float(np.abs(bars[-1]).max()) < 1e-4  # 16 repeats later the delay rests
    assert renderer._sending is None


def test_automated_sets_render_identically_twice(pack: SamplePack) -> None:
    from bergain_actors.music.plan import Filter

    def plans() -> list[BarPlan]:
        out = []
        for bar in range(12):
            sweep = Filter("lowpass", 200.0 * 1.5**bar, 200.0 * 1.5 ** (bar + 1), q=1.5)
            out.append(
                _plan(
                    bar,
                    Layer("kick", "kick/k.wav", 0.8, hits=pattern_hits("four_on_floor")),
                    Layer("hihat", "hihat/h.wav", 0.5, hits=pattern_hits("offbeat_8ths"), pan=0.4, width=0.5, send=0.3),
                    Layer("texture", "texture/steps_128bpm_4bar_loop.wav", 0.3, kind="loop", filter=sweep, send=0.2,
                          gain_end=0.3 + 0.05 * bar),
                )
            )  # fmt: skip
        return out

    forget_copies()
    cold = Renderer(pack, SR)
    first = np.concatenate([r for r in map(cold.render, plans())])
    warm = Renderer(pack, SR)  # takes every copy the first one made: the output never depends on them
    second = np.concatenate([r for r in map(warm.render, plans())])
    assert first.tobytes() == second.tobytes()
    assert float(np.abs(first).max()) > 0.05
    assert cold.copies_made > 0 and warm.copies_made == 0  # (a sweep's spans are made each bar, not copies)


def test_renderers_share_copies_only_of_the_same_samples(tmp_path: Path, pack: SamplePack) -> None:
    """Another pack with the same sample names but other sounds makes its own copies (keys carry the content)."""
    other_dir = tmp_path / "other"
    (other_dir / "kick").mkdir(parents=True)
    t = np.arange(4000) / SR
    sf.write(other_dir / "kick" / "k.wav", (0.5 * np.sin(2 * np.pi * 90 * t)).astype(np.float32), SR)
    other = index_pack(other_dir, SR)
    plan = _plan(0, Layer("kick", "kick/k.wav", 0.8, hits=(0,), width=0.5, reverb=0.3))
    forget_copies()
    first = Renderer(pack, SR)
    mine = first.render(plan)
    theirs = Renderer(other, SR)
    heard = theirs.render(plan)
    assert first.copies_made > 0 and theirs.copies_made == first.copies_made
    assert heard.tobytes() != mine.tobytes()
    assert heard.tobytes() == Renderer(other, SR).render(plan).tobytes()


def test_a_sweep_filters_only_the_beats_it_plays_as_the_whole_loop_filtered_would(
    pack: SamplePack, monkeypatch
) -> None:
    """A sweep holds each cutoff step for a beat or so: each run of beats at one step is filtered on its own
    (``effects.filtered_span``), never the whole 4-bar loop at every step (that cost tens of milliseconds and a copy
    of the loop a step), and it sounds as the whole loop filtered at that step does, to within float32 rounding."""
    from bergain_actors.music.plan import Filter

    calls: dict[str, int] = {"spectrum": 0, "filtered": 0, "filtered_span": 0}

    def counted(name: str):
        real = getattr(effects, name)

        def call(*args):
            calls[name] += 1
            return real(*args)

        return call

    for name in calls:
        monkeypatch.setattr(effects, name, counted(name))
    forget_copies()
    renderer = Renderer(pack, SR)
    loop = pack.samples["texture/steps_128bpm_4bar_loop.wav"].data
    length, bar_len, level = loop.shape[0], _bar_exact(128), np.float32(0.3 * MASTER_GAIN)
    runs = 0
    for bar in range(4):
        sweep = Filter("lowpass", 200.0 * 2.0**bar, 200.0 * 2.0 ** (bar + 1))
        layer = Layer("texture", "texture/steps_128bpm_4bar_loop.wav", 0.3, kind="loop", filter=sweep)
        audio = renderer.render(_plan(bar, layer))
        steps = [effects.step_of(effects.glide(sweep.hz, sweep.hz_end, beat / 4)) for beat in range(4)]
        runs += len([k for k in range(4) if k == 0 or steps[k] != steps[k - 1]])
        first = math.floor(bar * bar_len)
        for beat, step in enumerate(steps):
            lo = math.floor(bar * bar_len + beat * bar_len / 4) - first
            hi = math.floor(bar * bar_len + (beat + 1) * bar_len / 4) - first
            whole = effects.spectrum(loop, True)  # the old way: the whole loop at this step (counted, subtracted)
            whole = effects.filtered(whole, length, "lowpass", step, sweep.q, SR, effects.unit_circle(length, SR))
            at = (bar * length) // 4
            expected = np.take(whole, np.arange(at + lo, at + hi) % length, axis=0) * level
            assert np.abs(audio[lo:hi] - expected).max() < 1e-6, (bar, beat)
    assert calls == {"spectrum": 16, "filtered": 16, "filtered_span": runs} and runs > 10  # only the test's own


@pytest.mark.parametrize(
    ("kind", "hz", "q"), [("lowpass", 300.0, 1.1), ("highpass", 31.7, 1.3), ("lowpass", 60.0, 8.0)]
)
def test_a_span_of_a_loop_filtered_alone_is_the_loop_filtered_whole(kind: str, hz: float, q: float) -> None:
    """Across the loop's end too, and for a resonant low filter that rings for a second."""
    loop = (np.random.default_rng(4).standard_normal((82688, 2)) * 0.3).astype(np.float32)
    step = effects.step_of(hz)
    whole = effects.filtered(effects.spectrum(loop, True), 82688, kind, step, q, SR, effects.unit_circle(82688, SR))
    for start in (0, 40000, 82688 - 5000):
        span = effects.filtered_span(loop, start, 20672, kind, step, q, SR)
        assert np.abs(span - np.take(whole, np.arange(start, start + 20672) % 82688, axis=0)).max() < 1e-6


def test_the_steady_bus_is_summed_again_exactly_when_a_steady_layer_changes(pack: SamplePack, monkeypatch) -> None:
    """The steady one-shot layers of a bar are summed once into a cached bus (reverb tails and sends included).
    Every field that shapes the sound (gain, pan, width, reverb, send, sample, hits) makes a new bus, and a layer
    that starts moving (a ramp or a filter) leaves it: a renderer whose cache is emptied before every bar plays
    the same bytes, and the warm one sums one bus per distinct set of steady layers."""
    from bergain_actors.music.plan import Filter

    summed: dict[int, int] = {}
    real = Renderer._sum_steady

    def counted(self, *args):
        summed[id(self)] = summed.get(id(self), 0) + 1
        return real(self, *args)

    monkeypatch.setattr(Renderer, "_sum_steady", counted)
    monkeypatch.setattr(render, "_BUS_BYTES", 64 << 20)  # room for every bus below: this counts sums, not evictions
    kick = Layer("kick", "kick/k.wav", 0.8, hits=pattern_hits("four_on_floor"))
    long = Layer("fx", "fx/long.wav", 0.3, hits=(0,), send=0.2)  # rings 3 s: its bus reaches two bars on
    hat = Layer("hihat", "hihat/h.wav", 0.5, hits=pattern_hits("offbeat_8ths"), reverb=0.3)
    changes = [
        {},
        {},
        {"gain": 0.4},
        {"pan": 0.3},
        {"width": 0.5},
        {"reverb": 0.6},
        {"send": 0.2},
        {"sample": "perc/dc.wav"},
        {"hits": pattern_hits("sixteenths")},
        {"gain_end": 0.2},  # a ramp: the hat leaves the bus, which holds the kick and the long hit alone
        {"filter": Filter("lowpass", 400.0, 800.0)},  # as does a filter: the same bus again
        {},
    ]
    plans = [
        BarPlan(bar=bar, bpm=120.0, layers=(kick, msgspec.structs.replace(hat, **fields), long))
        for bar, fields in enumerate(changes)
    ]  # 120 BPM: every bar starts on a whole frame, so the onsets, and the bus, repeat whenever the layers do
    warm, cold = Renderer(pack, SR), Renderer(pack, SR)
    for plan in plans:
        cold._buses.clear()
        assert warm.render(plan).tobytes() == cold.render(plan).tobytes(), f"bar {plan.bar}"
    assert summed[id(cold)] == len(plans)
    assert summed[id(warm)] == len(plans) - 3  # bars 1, 10 and 11 reuse a bus


def test_the_arrangements_bed_is_wide_keeps_its_mono_sum_and_leaves_the_low_end_alone() -> None:
    """The bed on the shipped pack: left and right unrelated (not opposed), so a mono club system hears it 3 dB
    down rather than losing it, and its drone high-passed out from under the kick and the bass."""
    shipped = index_pack(SHIPPED, SR)
    layer = bed(BarPlan(bar=0, bpm=128.0, phase="intro"), 256, 16, menu_from_pack(shipped))
    assert layer is not None
    renderer = Renderer(shipped, SR)
    audio = np.concatenate([renderer.render(_plan(b, layer)) for b in range(8)])
    wide = audio.astype(np.float64)
    assert abs(measure.stereo_correlation(wide)) < 0.15
    mono = wide.mean(axis=1)
    assert float(mono @ mono) > 10 ** (-4 / 10) * float((wide**2).sum()) / 2
    assert _band_energy(wide, 20, 90) < 0.02 * _band_energy(wide, 200, 3000)


def test_a_steady_send_echoes_steadily_across_the_delays_periods_and_bar_lines(tmp_path: Path) -> None:
    """A constant sent into the delay comes back constant: each repeat is the average of a frame and the one
    before, also at the first frame of each delay period and of each bar (which once took its own frame alone: a
    one-frame dip to half the echo every dotted eighth, a click on every repeat of a sustained send)."""
    _write(tmp_path, "texture/dc_128bpm_1bar_loop.wav", np.full(math.floor(_bar_exact(128)), 0.2, np.float32))
    renderer = Renderer(index_pack(tmp_path, SR), SR)
    layer = Layer("texture", "texture/dc_128bpm_1bar_loop.wav", 0.5, kind="loop", send=0.5)
    bars = [renderer.render(_plan(b, layer)) for b in range(12)]
    settled = np.concatenate(bars[8:])  # 33 periods on: the repeats have reached their sum
    assert float(np.abs(np.diff(settled, axis=0)).max()) < 1e-6
    dry = 0.2 * 0.5 * MASTER_GAIN
    assert float(settled.min()) > dry * 1.1  # the echoes are there
