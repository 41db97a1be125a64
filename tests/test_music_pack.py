"""The synthesized pack is reproducible and usable; the indexer maps any folder tree to roles safely."""

from __future__ import annotations

import filecmp
import mmap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bergain_actors.music.pack import SamplePack, classify, index_pack, resample_rate
from bergain_actors.music.shared_audio import SharedAudio
from bergain_actors.music.synth import write_pack

SHIPPED = Path(__file__).resolve().parent.parent / "sample_pack"
ROLES = ("kick", "hihat", "clap", "snare", "perc", "ride", "bass", "bassline", "synth", "texture", "fx", "drum_loop")
SR = 44100


@pytest.fixture(scope="module")
def shipped() -> SamplePack:
    return index_pack(SHIPPED, SR)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pack_a")
    write_pack(out)
    return out


def _tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.wav"))


def test_write_pack_is_byte_identical_across_runs(generated: Path, tmp_path: Path) -> None:
    paths = write_pack(tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in paths) == _tree(generated)
    for rel in _tree(generated):
        assert (generated / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel


def test_shipped_pack_matches_the_generator(generated: Path) -> None:
    assert _tree(SHIPPED) == _tree(generated), (
        "sample_pack/ is out of date: run `python -m bergain_actors.music.synth sample_pack` and commit it"
    )
    _, mismatch, errors = filecmp.cmpfiles(SHIPPED, generated, _tree(generated), shallow=False)
    assert not mismatch and not errors, (
        f"sample_pack/ differs from synth.py output in {mismatch + errors}: regenerate it with "
        "`python -m bergain_actors.music.synth sample_pack` (or, on another CPU, numpy's float results may differ)"
    )


def test_shipped_pack_is_small(generated: Path) -> None:
    total = sum((generated / rel).stat().st_size for rel in _tree(generated))
    assert 1_000_000 < total <= 8_000_000, f"sample pack is {total} bytes; the budget is 8 MB"


def test_shipped_pack_has_every_role_with_sane_data(shipped: SamplePack) -> None:
    counts = shipped.roles()
    for role in ROLES:
        assert counts.get(role, 0) >= 1, role
    assert "other" not in counts
    for s in shipped.samples.values():
        assert s.data.dtype == np.float32 and s.data.ndim == 2 and s.data.shape[1] == 2, s.id
        assert s.data.flags.c_contiguous, s.id
        assert s.id == s.path.relative_to(SHIPPED).as_posix()
    loops = {s.id: s for s in shipped.samples.values() if s.is_loop}
    assert {s.role for s in loops.values()} == {"bassline", "texture", "drum_loop"}
    for s in loops.values():
        assert s.bpm == 128.0, s.id
        assert s.bars in (1, 2, 4), s.id
        assert s.frames == round(s.bars * 82687.5 + 0.01), s.id
    assert shipped.samples["texture/pad_Am9_128bpm_4bar_loop.wav"].bars == 4
    assert [s.id for s in shipped.by_role("kick")] == sorted(s.id for s in shipped.by_role("kick"))


def test_no_shipped_sample_is_silent_or_clipping(shipped: SamplePack) -> None:
    for s in shipped.samples.values():
        assert 0.1 < s.peak <= 1.0, (s.id, s.peak)
        assert s.rms > 0.005, (s.id, s.rms)
        raw, _ = sf.read(s.path, dtype="int16", always_2d=True)
        assert np.abs(raw.astype(np.int32)).max() < 32767, f"{s.id} touches full scale"


def _band_energy(x: np.ndarray, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(x.mean(axis=1))) ** 2
    freqs = np.fft.rfftfreq(x.shape[0], 1.0 / SR)
    return float(spec[(freqs >= lo) & (freqs < hi)].sum() / spec.sum())


def test_kicks_are_low_and_hats_are_high(shipped: SamplePack) -> None:
    for s in shipped.by_role("kick"):
        onset = s.data[: int(0.25 * SR)]
        assert _band_energy(onset, 0.0, 150.0) > 0.6, s.id
    for s in shipped.by_role("hihat"):
        assert _band_energy(s.data, 5000.0, SR / 2) > 0.8, s.id
    for s in shipped.by_role("bass") + shipped.by_role("bassline"):
        assert _band_energy(s.data, 0.0, 400.0) > 0.6, s.id


def test_content_hash_is_stable_and_tracks_bytes(tmp_path: Path) -> None:
    for name, value in (("kick/a.wav", 0.5), ("hihat/b.wav", 0.25)):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(tmp_path / name, np.full(1000, value), SR, subtype="PCM_16")
    first = index_pack(tmp_path, SR).content_hash
    assert first == index_pack(tmp_path, SR).content_hash
    assert len(first) == 64 and int(first, 16) >= 0
    sf.write(tmp_path / "hihat/b.wav", np.full(1000, 0.2), SR, subtype="PCM_16")
    assert index_pack(tmp_path, SR).content_hash != first


def _write(root: Path, rel: str, frames: int, rate: int = SR, channels: int = 1, **kw: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(frames) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440.0 * t) * np.exp(-t)
    sf.write(path, np.stack([tone] * channels, axis=1), rate, **kw)


def test_synonym_folders_formats_bpm_and_bars(tmp_path: Path) -> None:
    bar_133 = 4 * 60 * SR / 133
    _write(tmp_path, "Kickdrums/BD_rumble_01.wav", 8000)
    _write(tmp_path, "HH/closed 03.aiff", 4000, format="AIFF")
    _write(tmp_path, "Drum Loops/groove_133bpm.flac", round(2 * bar_133), channels=2)
    _write(tmp_path, "Textures & Atmospheres & Pads/air_90 BPM_4 bars.wav", 20000)
    _write(tmp_path, "FX-Impacts/boom.ogg", 9000, format="OGG", subtype="VORBIS")
    _write(tmp_path, "Perx/Shaker.wav", 3000)
    _write(tmp_path, "DFAM bassline loops/acid 125bpm.wav", round(4 * 60 * SR / 125))
    _write(tmp_path, "Bass/sub_A1.wav", 5000)
    _write(tmp_path, "Synth/Stab_Am.aif", 5000, format="AIFF")
    _write(tmp_path, "hat loops/top_128bpm_1bar.wav", 82688)
    _write(tmp_path, "Claps/909.wav", 3000)
    _write(tmp_path, "misc/thing.wav", 3000)
    _write(tmp_path, ".hidden/kick.wav", 3000)
    (tmp_path / "notes.txt").write_text("not audio")
    pack = index_pack(tmp_path, SR)
    got = {sid: (s.role, s.is_loop, s.bpm, s.bars) for sid, s in pack.samples.items()}
    assert got == {
        "Kickdrums/BD_rumble_01.wav": ("kick", False, None, None),
        "HH/closed 03.aiff": ("hihat", False, None, None),
        "Drum Loops/groove_133bpm.flac": ("drum_loop", True, 133.0, 2),
        "Textures & Atmospheres & Pads/air_90 BPM_4 bars.wav": ("texture", True, 90.0, 4),
        "FX-Impacts/boom.ogg": ("fx", False, None, None),
        "Perx/Shaker.wav": ("perc", False, None, None),
        "DFAM bassline loops/acid 125bpm.wav": ("bassline", True, 125.0, 1),
        "Bass/sub_A1.wav": ("bass", False, None, None),
        "Synth/Stab_Am.aif": ("synth", False, None, None),
        "hat loops/top_128bpm_1bar.wav": ("hat_loop", True, 128.0, 1),
        "Claps/909.wav": ("clap", False, None, None),
        "misc/thing.wav": ("other", False, None, None),
    }
    assert pack.samples["Drum Loops/groove_133bpm.flac"].frames == round(2 * bar_133)
    listing = pack.listing()
    for role in ("kick", "drum_loop", "hat_loop", "other", "total"):
        assert role in listing
    assert pack.roles()["kick"] == 1 and sum(pack.roles().values()) == 12


def test_file_names_decide_when_folders_do_not() -> None:
    assert classify("One Shots/Kick_01.wav") == ("kick", False)
    assert classify("Loops/Bass_rolling_128bpm.wav") == ("bassline", True)
    assert classify("bassline/bass_note_A1.wav") == ("bass", False)
    assert classify("Samples/Drums/ride_bell.wav") == ("ride", False)
    assert classify("Kit/Bass Drum 2.wav") == ("kick", False)


def test_unreadable_files_are_skipped_with_a_warning(tmp_path: Path) -> None:
    _write(tmp_path, "kick/good.wav", 4000)
    (tmp_path / "kick" / "x.wav").write_bytes(np.random.default_rng(7).bytes(5000))
    (tmp_path / "hihat").mkdir()
    (tmp_path / "hihat" / "empty.wav").write_bytes(b"")
    messages: list[str] = []
    pack = index_pack(tmp_path, SR, warn=messages.append)
    assert list(pack.samples) == ["kick/good.wav"]
    assert len(messages) == 2
    assert any("kick/x.wav" in m for m in messages)
    assert any("hihat/empty.wav" in m for m in messages)
    with pytest.warns(UserWarning) as caught:
        index_pack(tmp_path, SR)
    assert sorted(str(w.message).split(":")[0] for w in caught) == [
        "skipping sample hihat/empty.wav",
        "skipping sample kick/x.wav",
    ]
    assert "empty file" in messages[0] + messages[1]


def test_resampling_from_48k_keeps_length_and_pitch(tmp_path: Path) -> None:
    _write(tmp_path, "perc/tone48.wav", 48000, rate=48000, subtype="FLOAT")
    _write(tmp_path, "perc/tone441.wav", 44100, rate=SR, subtype="FLOAT")
    pack = index_pack(tmp_path, SR)
    resampled = pack.samples["perc/tone48.wav"].data
    native = pack.samples["perc/tone441.wav"].data
    assert resampled.shape == (44100, 2)
    core = slice(100, -100)
    assert np.max(np.abs(resampled[core] - native[core])) < 2e-3
    spec = np.abs(np.fft.rfft(resampled[:, 0]))
    assert abs(np.argmax(spec) * SR / resampled.shape[0] - 440.0) < 1.5
    assert resample_rate(np.zeros((1000, 2), np.float32), 22050, 44100).shape == (2000, 2)


def test_synth_command_line_needs_an_out_dir(capsys: pytest.CaptureFixture[str]) -> None:
    from bergain_actors.music.synth import main

    assert main([]) == 2
    assert "usage" in capsys.readouterr().err


def test_a_pack_decoded_into_shared_memory_is_the_same_pack(shipped: SamplePack) -> None:
    """The render worker's pack: decoded into shared memory as it is read, the same samples, bytes, measures and
    hash as one decoded into the process's own, and read-only (two processes render from it)."""
    shared = SharedAudio.create()
    try:
        pack = index_pack(shipped.root, shipped.sample_rate, shared=shared)
    finally:
        shared.close()
    assert pack.content_hash == shipped.content_hash and pack.samples.keys() == shipped.samples.keys()
    for rel, sample in shipped.samples.items():
        other = shared.view(rel)
        assert pack.samples[rel].data.base is not None and not pack.samples[rel].data.flags.writeable
        assert other.tobytes() == pack.samples[rel].data.tobytes() == sample.data.tobytes(), rel
        assert pack.samples[rel].frames == sample.frames
        kept = ("role", "is_loop", "bpm", "bars", "peak", "rms", "pitches", "pitch_from")
        assert [getattr(pack.samples[rel], k) for k in kept] == [getattr(sample, k) for k in kept]
    offsets = sorted(offset for offset, _ in shared.layout.values())
    assert all(offset % mmap.PAGESIZE == 0 for offset in offsets) and len(set(offsets)) == len(offsets)
