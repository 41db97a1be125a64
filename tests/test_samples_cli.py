"""`bergain-actors samples`: roles and counts of any pack; broken files are skipped with a warning, never a crash."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from bergain_actors.cli import main
from bergain_actors.core.scenario import PACKAGE_ROOT
from bergain_actors.display.scan import EVERY
from bergain_actors.music import pack
from bergain_actors.music.pack import MAX_FILES, MAX_SAMPLE_S


def test_lists_the_shipped_pack(capsys):
    assert main(["samples", str(PACKAGE_ROOT / "sample_pack")]) == 0
    out = capsys.readouterr().out
    for role in ("kick", "hihat", "clap", "bassline", "texture", "fx", "drum_loop"):
        assert role in out
    assert "content hash" in out


def test_broken_files_are_skipped_with_a_warning(tmp_path, capsys):
    (tmp_path / "Kickdrums").mkdir()
    sf.write(tmp_path / "Kickdrums" / "bd_1.wav", np.zeros((4410, 2), np.float32) + 0.1, 44100)
    (tmp_path / "Kickdrums" / "broken.wav").write_bytes(b"RIFF\x00\x00garbage")
    (tmp_path / "HH").mkdir()
    (tmp_path / "HH" / "empty.wav").write_bytes(b"")
    assert main(["samples", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "kick" in captured.out
    assert "broken.wav" in captured.err and "empty.wav" in captured.err
    assert "Traceback" not in captured.err


def test_missing_folder_is_bad_input(tmp_path, capsys):
    assert main(["samples", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    assert main(["samples", str(tmp_path / "a.wav")]) == 2
    assert capsys.readouterr().err == f"bergain-actors: {tmp_path / 'a.wav'}: not a folder\n"


def test_a_long_scan_says_how_far_it_got_on_stderr(tmp_path, capsys):
    for index in range(EVERY):  # a folder each: the walk reaches EVERY folders, then EVERY files are decoded
        (tmp_path / f"kick_{index:03}").mkdir()
        sf.write(tmp_path / f"kick_{index:03}" / "bd.wav", np.full((64, 1), 0.1, np.float32), 44100)
    assert main(["samples", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert f"samples: scanning {tmp_path}: {EVERY} folders, {EVERY - 1} audio files so far\n" in captured.err
    assert f"samples: decoded {EVERY} of {EVERY} audio files\n" in captured.err  # before: nothing until the end
    assert "samples:" not in captured.out and f"kick     {EVERY}" in captured.out


def test_a_folder_with_more_audio_files_than_a_pack_is_refused_before_one_is_decoded(tmp_path, capsys):
    for index in range(MAX_FILES + 1):
        (tmp_path / f"{index}.wav").write_bytes(b"")  # empty: decoding one would warn
    assert main(["samples", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.endswith(
        f"bergain-actors: {tmp_path}: more than {MAX_FILES} audio files: a sample pack is one folder of samples\n"
    )
    assert "skipping sample" not in error


def test_a_file_longer_than_a_sample_is_skipped_unread_and_a_pack_too_big_is_refused(tmp_path, capsys, monkeypatch):
    (tmp_path / "kick").mkdir()
    sf.write(tmp_path / "kick" / "bd.wav", np.full((64, 1), 0.1, np.float32), 44100)
    sf.write(tmp_path / "kick" / "set.wav", np.zeros(((MAX_SAMPLE_S + 1) * 100, 1), np.float32), 100, "PCM_16")
    assert main(["samples", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert f"skipping sample kick/set.wav: ValueError: 601 s long: a sample lasts {MAX_SAMPLE_S} s at most" in (
        captured.err
    )
    assert "kick       1      0          1" in captured.out
    monkeypatch.setattr(pack, "MAX_PACK_BYTES", 64 * 2 * 4 - 1)  # the one sample, decoded to stereo float32
    assert main(["samples", str(tmp_path)]) == 2
    assert f"{tmp_path}: more than 0 GB of decoded audio" in capsys.readouterr().err


@pytest.mark.parametrize("files", [0, MAX_FILES + 1], ids=["no-sample", "too-many"])
def test_a_set_on_a_folder_that_is_no_pack_is_refused_and_leaves_no_folder(tmp_path, capsys, files):
    (tmp_path / "pack").mkdir()
    for index in range(files):
        (tmp_path / "pack" / f"{index}.wav").write_bytes(b"")
    text = (PACKAGE_ROOT / "scenarios" / "autopilot.toml").read_text().replace("../sample_pack", str(tmp_path / "pack"))
    (tmp_path / "set.toml").write_text(text)
    out = tmp_path / "sets" / "tonight"
    assert main(["run", str(tmp_path / "set.toml"), "--fast", "--bars", "1", "--out", str(out)]) == 2
    said = "no usable samples in" if files == 0 else f"more than {MAX_FILES} audio files"
    assert said in capsys.readouterr().err
    assert not (tmp_path / "sets").exists()  # before: the empty folders it made for the set were left behind
