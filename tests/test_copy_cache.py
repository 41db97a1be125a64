"""The renderer's cold copies kept on disk across sets (``music/copy_cache.py``): read back they play the same bytes
and make nothing again; a corrupt or truncated one is made again with a warning, never played; off is off; the
folder stays under its bound."""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bergain_actors.music import copy_cache
from bergain_actors.music.pack import SamplePack, index_pack
from bergain_actors.music.plan import BarPlan, Filter, Layer
from bergain_actors.music.render import Renderer, forget_copies

SR = 44100


def _pack(root: Path, seed: int) -> SamplePack:
    """A one-shot, a loop tagged 120 BPM (stretched at 128) and a 4-bar loop at 128 BPM (swept)."""
    rng = np.random.default_rng(seed)
    sounds = {
        "kick/k.wav": rng.standard_normal(8000) * 0.3 * np.exp(-np.arange(8000) / 2000.0),
        "drum_loop/d_120bpm_1bar_loop.wav": rng.standard_normal((88200, 2)) * 0.1,
        "texture/t_128bpm_4bar_loop.wav": rng.standard_normal((330750, 2)) * 0.1,
    }
    for rel, data in sounds.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / rel, data.astype(np.float32), SR, subtype="FLOAT")
    return index_pack(root, SR)


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> SamplePack:
    return _pack(tmp_path_factory.mktemp("cache_pack"), 1)


def _plans() -> list[BarPlan]:
    plans = []
    for bar in range(3):
        layers = (
            Layer("kick", "kick/k.wav", 0.8, hits=(0, 96, 192, 288), width=0.4, reverb=0.3),
            Layer("drum_loop", "drum_loop/d_120bpm_1bar_loop.wav", 0.5, kind="loop",
                  filter=Filter("highpass", 400.0, 400.0)),
            Layer("texture", "texture/t_128bpm_4bar_loop.wav", 0.3, kind="loop", width=0.6,
                  filter=Filter("lowpass", 300.0 * 2**bar, 300.0 * 2 ** (bar + 1))),
        )  # fmt: skip
        plans.append(BarPlan(bar=bar, bpm=128.0, layers=layers))
    return plans


def _played(pack: SamplePack) -> tuple[bytes, Renderer]:
    """The plans rendered by a renderer of their own, no copy in memory from an earlier one."""
    forget_copies()
    renderer = Renderer(pack, SR)
    return b"".join(renderer.render(plan).tobytes() for plan in _plans()), renderer


def test_copies_read_back_from_disk_play_the_same_bytes_and_make_nothing(
    pack: SamplePack, render_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold_audio, cold = _played(pack)
    kept = sorted(render_cache.iterdir())
    assert cold.copies_made > 0 and kept
    warm_audio, warm = _played(pack)
    assert warm_audio == cold_audio
    assert warm.copies_made == 0 and 0 < warm.copies_loaded <= len(kept)  # (spans read back need no spread)
    monkeypatch.setenv(copy_cache.ENV, "off")
    assert _played(pack)[0] == cold_audio  # as made with no disk at all
    assert sorted(render_cache.iterdir()) == kept


def test_a_corrupt_or_truncated_copy_is_made_again_with_a_warning(
    pack: SamplePack, render_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cold_audio, _ = _played(pack)
    files = sorted(render_cache.iterdir())  # copies only: the module's pack keeps its facts elsewhere
    flipped, cut = files[0], files[1]
    raw = bytearray(flipped.read_bytes())
    raw[-3] ^= 0x40  # one bit of the last sample
    flipped.write_bytes(bytes(raw))
    cut.write_bytes(cut.read_bytes()[:-4])
    with caplog.at_level(logging.WARNING, logger=copy_cache.__name__):
        audio, again = _played(pack)
    assert audio == cold_audio
    assert again.copies_made >= 2 and again.copies_loaded <= len(files) - 2
    corrupt = [record.getMessage() for record in caplog.records if "is corrupt" in record.getMessage()]
    assert len(corrupt) == 2 and any(flipped.name in said and "CRC-32" in said for said in corrupt), corrupt
    assert any(cut.name in said and "bytes" in said for said in corrupt), corrupt
    third_audio, third = _played(pack)  # both written again, whole
    assert third_audio == cold_audio and third.copies_made == 0


def test_off_keeps_nothing_on_disk(pack: SamplePack, render_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(copy_cache.ENV, "off")
    assert copy_cache.from_environment() is None
    _played(pack)
    assert list(render_cache.iterdir()) == []
    monkeypatch.delenv(copy_cache.ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(render_cache / "xdg"))
    assert copy_cache.folder_from_environment() == render_cache / "xdg" / "bergain-actors" / "copies"


def test_another_pack_with_the_same_names_reads_none_of_the_copies(
    pack: SamplePack, tmp_path: Path, render_cache: Path
) -> None:
    mine, _ = _played(pack)
    theirs, renderer = _played(_pack(tmp_path, 2))
    assert theirs != mine and renderer.copies_made > 0 and renderer.copies_loaded == 0


def test_another_decoder_or_a_pack_not_decoded_from_files_reads_none_of_the_copies(
    pack: SamplePack, render_cache: Path
) -> None:
    mine, _ = _played(pack)
    kept = sorted(render_cache.iterdir())
    theirs, renderer = _played(dataclasses.replace(pack, decoded_by="another decoder"))
    assert theirs == mine and renderer.copies_made > 0 and renderer.copies_loaded == 0  # the same audio here
    assert len(list(render_cache.iterdir())) == 2 * len(kept)
    _, unnamed = _played(dataclasses.replace(pack, decoded_by=""))
    assert unnamed.copies_made > 0 and unnamed.copies_loaded == 0
    assert len(list(render_cache.iterdir())) == 2 * len(kept)


def test_the_folder_is_kept_under_its_bound_the_least_recently_used_going_first(tmp_path: Path) -> None:
    disk = copy_cache.DiskCopies(tmp_path, max_bytes=10 * (copy_cache.HEADER.size + 4096 * 8))
    copies = {f"c{k}": np.full((4096, 2), k, np.float32) for k in range(12)}
    for k, (name, copy) in enumerate(copies.items()):
        disk.put(name, copy)
        os.utime(tmp_path / name, (1000 + k, 1000 + k))
    os.utime(tmp_path / "c0", (5000, 5000))  # the oldest, read lately
    disk.prune()
    left = {path.name for path in tmp_path.iterdir()}
    assert sum(path.stat().st_size for path in tmp_path.iterdir()) <= disk.max_bytes * 3 // 4
    assert "c0" in left and "c11" in left and "c1" not in left and "c2" not in left
    got = disk.get("c11")
    assert got is not None and got.tobytes() == copies["c11"].tobytes() and not got.flags.writeable
    assert disk.get("c1") is None


def test_a_packs_facts_read_back_from_disk_are_the_ones_measured(
    tmp_path: Path, render_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sample's peak, RMS and estimated pitches are kept beside the copies: the next index of the pack reads them
    back (no pitch estimated again), the same numbers; a pack whose file changed measures that file again."""
    from bergain_actors.music import keys

    root = tmp_path / "pack"
    t = np.arange(SR) / SR
    for rel, hz in (("stabs/stab_low.wav", 110.0), ("pad/pad_mid_128bpm_1bar_loop.wav", 261.63)):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / rel, (0.4 * np.sin(2 * np.pi * hz * t)).astype(np.float32), SR, subtype="FLOAT")
    estimated = []
    real = keys.estimate
    monkeypatch.setattr(keys, "estimate", lambda data, rate: estimated.append(1) or real(data, rate))

    def facts(pack: SamplePack) -> dict[str, tuple]:
        return {s.id: (s.peak, s.rms, s.pitches, s.pitch_from) for s in pack.samples.values()}

    first = facts(index_pack(root, SR))
    assert len(estimated) == 2 and all(pitches for _, _, pitches, _ in first.values())
    assert facts(index_pack(root, SR)) == first and len(estimated) == 2
    sf.write(root / "stabs/stab_low.wav", (0.2 * np.sin(2 * np.pi * 146.83 * t)).astype(np.float32), SR)
    changed = facts(index_pack(root, SR))
    assert len(estimated) == 3 and changed["stabs/stab_low.wav"] != first["stabs/stab_low.wav"]
    monkeypatch.setenv(copy_cache.ENV, "off")
    assert facts(index_pack(root, SR)) == changed and len(estimated) == 5


RENDER_ONCE = """
import sys, zlib
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from test_copy_cache import SR, _played, index_pack
audio, renderer = _played(index_pack(Path(sys.argv[2]), SR))
print(zlib.crc32(audio), renderer.copies_made, renderer.copies_loaded)
"""


def test_sets_writing_the_same_copies_at_once_leave_whole_ones(tmp_path: Path, render_cache: Path) -> None:
    """Processes that make the same copies at the same time (the suite's workers, ``evaluate --jobs``) each write
    whole files under names of their own and rename them into place: a set after them reads every copy back, whole,
    and plays the same bytes."""
    import subprocess
    import sys

    _pack(tmp_path / "pack", 1)
    argv = [sys.executable, "-c", RENDER_ONCE, str(Path(__file__).parent), str(tmp_path / "pack")]
    racing = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    said = [process.communicate(timeout=300) for process in racing]
    assert all(process.returncode == 0 for process in racing), said
    crcs = {out.split()[0] for out, _ in said}
    assert len(crcs) == 1 and not any("corrupt" in err for _, err in said), said
    after = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=True)
    crc, made, loaded = after.stdout.split()
    assert crc in crcs and made == "0" and int(loaded) > 0 and "corrupt" not in after.stderr
    assert not [path for path in render_cache.iterdir() if path.name.endswith(".tmp")]


def test_a_folder_that_refuses_writes_is_warned_about_once_and_the_music_plays_on(
    pack: SamplePack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "a file, not a folder"
    blocked.write_text("")
    monkeypatch.setenv(copy_cache.ENV, "off")
    expected, _ = _played(pack)
    monkeypatch.setenv(copy_cache.ENV, str(blocked / "copies"))
    with caplog.at_level(logging.WARNING, logger=copy_cache.__name__):
        audio, renderer = _played(pack)
    said = [record.getMessage() for record in caplog.records]
    assert audio == expected and renderer.copies_made > 2
    assert len(said) == 1 and "cannot keep copies" in said[0], said


def test_a_pack_resampled_to_the_sets_rate_is_read_back_the_same(
    tmp_path: Path, render_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A set at another rate than its pack's files resamples every sample at its start (2 s for the shipped pack at
    48 kHz): the resampled audio is kept, and the next set reads the very same samples back."""
    from bergain_actors.music import pack as packs

    root = tmp_path / "pack"
    _pack(root, 3)
    resampled = []
    real = packs.resample_rate
    monkeypatch.setattr(packs, "resample_rate", lambda *a, **k: resampled.append(1) or real(*a, **k))

    def audio(pack: SamplePack) -> dict[str, bytes]:
        return {s.id: s.data.tobytes() for s in pack.samples.values()}

    first = audio(index_pack(root, 48000))
    assert len(resampled) == 3
    again = index_pack(root, 48000)
    assert audio(again) == first and len(resampled) == 3
    assert all(s.data.flags.writeable for s in again.samples.values())  # as decoded: a copy, not the cache's map
    monkeypatch.setenv(copy_cache.ENV, "off")
    assert audio(index_pack(root, 48000)) == first and len(resampled) == 6
