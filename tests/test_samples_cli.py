"""`bergain-actors samples`: roles and counts of any pack; broken files are skipped with a warning, never a crash."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from bergain_actors.cli import main
from bergain_actors.core.scenario import PACKAGE_ROOT


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
