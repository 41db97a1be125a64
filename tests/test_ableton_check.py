"""``bergain-actors check`` against the real AbletonOSC on the simulated Live, and without it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bergain_actors.cli import build_parser, main
from tests.ableton_peer import ROOT, free_udp_port, peer_factory  # noqa: F401 - the fixture

pytestmark = pytest.mark.timeout(120)


def scenario_file(tmp_path: Path, port: int, reply_port: int) -> Path:
    text = (ROOT / "scenarios" / "ableton.toml").read_text()
    text = text.replace("port = 11000", f"port = {port}").replace("reply_port = 11001", f"reply_port = {reply_port}")
    text = text.replace('"../sample_pack"', f'"{ROOT / "sample_pack"}"')
    path = tmp_path / "ableton.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("fork", [False, True], ids=["upstream", "fork"])
def test_check_lists_live_and_its_tracks(peer_factory, tmp_path, capsys, fork):  # noqa: F811
    peer = peer_factory(fork=fork)
    assert main(["check", str(scenario_file(tmp_path, peer.port, peer.reply_port))]) == 0
    out = capsys.readouterr().out
    assert "Live         12.1, 120 BPM, stopped" in out
    for line in ("0 1-MIDI", "1 2-MIDI", "2 3-Audio", "3 4-Audio"):
        assert line in out
    assert "scenes       8" in out
    assert ("browser      yes" in out) == fork
    assert "drums → new track 'drums'" in out


def test_check_names_the_free_slots_and_a_full_track_is_exit_2_with_the_fix(peer_factory, tmp_path, capsys):  # noqa: F811
    """On the demo set (the performer's Kick and Beat on 1-Drums, Bassline on 2-Bass) the ring skips their slots."""
    import trio

    from bergain_actors.actors.ableton.osc import OscClient

    peer = peer_factory(set="demo")
    path = scenario_file(tmp_path, peer.port, peer.reply_port)
    path.write_text(
        path.read_text().replace('drums = "drums"', 'drums = "1-Drums"').replace('bass = "bass"', 'bass = "2-Bass"')
    )
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "clip slots   drums: slots 2, 3, 4, 5; bass: slots 0, 2, 3, 4; chords: slots 0-3 of its new track" in out
    palette = tmp_path / "palette.toml"  # the grid's rows: not the performer's named scenes (Intro … Drop)
    palette.write_text(path.read_text().replace('mode = "live"', 'mode = "palette"'))
    assert main(["check", str(palette)]) == 0
    assert "clip slots   the grid's 9 scenes in rows 4, 5, 6, 7 and 5 scenes the set adds" in capsys.readouterr().out

    async def fill() -> None:  # the performer fills every slot of 1-Drums
        async with OscClient("127.0.0.1", peer.port, peer.reply_port, timeout=2.0) as osc:
            for slot in range(2, 8):
                osc.send("/live/clip_slot/create_clip", 0, slot, 4.0)
            assert (await osc.query("/live/clip_slot/get/has_clip", 0, 7))[0] is True

    trio.run(fill)
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "track '1-Drums' (drums) has a clip in every slot" in err and "add an empty scene" in err


def test_check_without_live_exits_2_with_the_fix(tmp_path, capsys):
    assert main(["check", str(scenario_file(tmp_path, free_udp_port(), free_udp_port()))]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "nothing listens on UDP" in err and "install AbletonOSC" in err


def test_check_on_a_port_held_by_something_else_names_the_wrong_port(tmp_path, capsys):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as mute:
        mute.bind(("127.0.0.1", 0))
        path = scenario_file(tmp_path, mute.getsockname()[1], free_udp_port())
        assert main(["check", str(path)]) == 2
    assert "does not answer /live/test: wrong [ableton] port" in capsys.readouterr().err


def test_check_with_the_reply_port_taken_names_it(peer_factory, tmp_path, capsys):  # noqa: F811
    peer = peer_factory()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
        other.bind(("127.0.0.1", peer.reply_port))
        assert main(["check", str(scenario_file(tmp_path, peer.port, peer.reply_port))]) == 2
    err = capsys.readouterr().err
    assert f"reply port {peer.reply_port} is taken by another program" in err and "reply_port" in err


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('mode = "arrangement"', "ableton.mode: invalid enum value 'arrangement'"),
        ("port = 70000", "ableton.port: expected int <= 65535, got 70000"),
        ("volume = 1", "ableton.volume: unknown key"),
        ('[ableton.tracks]\nkeys = "x"', "ableton.tracks.keys: unknown key"),
    ],
)
def test_ableton_tables_decode_strictly(table, message):
    from bergain_actors.core.scenario import ScenarioError, parse

    with pytest.raises(ScenarioError) as info:
        parse(f'[ableton]\nkind = "osc"\n{table}\n', "s.toml")
    assert str(info.value) == f"s.toml: {message}"


def test_check_of_a_scenario_that_plays_without_live_says_so_and_checks_the_live_scenario_by_default(capsys):
    assert main(["check", str(ROOT / "scenarios" / "autopilot.toml")]) == 2  # before: probed Live for it anyway
    assert capsys.readouterr().err == (
        'bergain-actors: check: autopilot.toml plays without Live (ableton.kind = "none"); check a scenario with'
        ' ableton.kind = "osc", e.g. scenarios/ableton.toml (the default)\n'
    )
    assert Path(build_parser().parse_args(["check"]).scenario) == ROOT / "scenarios" / "ableton.toml"  # was default
