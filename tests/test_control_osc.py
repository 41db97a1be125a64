"""The OSC control surface, driven by a python-osc client over real UDP on loopback: each message becomes the same
event a typed command would, is answered to its sender, and takes effect; displays get bar, phase and energy."""

from __future__ import annotations

import socket

import pytest
import trio
from pythonosc.osc_message import OscMessage
from pythonosc.udp_client import SimpleUDPClient

from bergain_actors import replay
from bergain_actors.control import osc
from bergain_actors.core import events as ev
from bergain_actors.core.log import read_all
from bergain_actors.performance import perform, set_paths


def test_messages_map_to_the_terminals_commands():
    assert osc.command("/bergain/steer", ["darker"]) == ev.Steer(intent="say", text="darker")
    assert osc.command("/bergain/energy", [0.25]) == ev.Steer(
        intent="energy", text="energy 0.25", value=0.25, absolute=True
    )
    assert osc.command("/bergain/swap", ["critic", "none"]) == ev.Control(
        command="swap", args={"slot": "critic", "kind": "none"}
    )
    assert osc.command("/bergain/hold", []) == ev.Steer(intent="hold", text="hold")
    assert osc.command("/bergain/stop", []) == ev.Control(command="stop")
    assert osc.command("/bergain/stop", ["now"]) == ev.Control(command="stop", args={"now": True})
    assert osc.command("/bergain/cmd", ["energy +"]) == ev.Steer(intent="energy", text="energy +", value=0.1)
    rejected = osc.command("/bergain/energy", [3.0])
    assert isinstance(rejected, ev.CommandRejected) and rejected.reason == "energy: level 3.0 is outside 0..1"
    unknown = osc.command("/bergain/dance", [1])
    assert isinstance(unknown, ev.CommandRejected)
    assert unknown.reason == "OSC: /bergain/dance with (int) is not a command"
    with pytest.raises(ValueError, match="not an OSC message"):
        osc.messages(b"garbage")


async def test_a_python_osc_client_steers_the_set(scenario_factory, tmp_path):
    scenario = scenario_factory(bars=3000, control={"osc_port": 0})
    log_path, wav_path = set_paths(scenario, tmp_path, stamp="osc")
    ports: list[int] = []
    heard: list[OscMessage] = []
    answers: list[tuple[int, str]] = []

    def port_of(event: ev.Event) -> None:
        if isinstance(event, ev.SurfaceStarted):
            ports.append(int(event.address.rsplit(":", 1)[1]))

    async def performer(desk) -> None:
        client = SimpleUDPClient("127.0.0.1", ports[0])
        client._sock.settimeout(0.05)

        def receive_answer() -> None:
            while True:
                for message in client.get_messages(timeout=0.05):
                    heard.append(message)
                    if message.address == "/bergain/answer":
                        answers.append(tuple(message.params))
                        return

        for address, value in [
            ("/bergain/steer", "darker"),
            ("/bergain/energy", 0.9),
            ("/bergain/swap", ["critic", "none"]),
            ("/bergain/swap", ["conductor", "bogus"]),
            ("/bergain/hold", []),
            ("/bergain/resume", []),
            ("/bergain/stop", []),
        ]:
            client.send_message(address, value)
            with trio.fail_after(30):  # a real socket answers; generous on a loaded machine
                await trio.to_thread.run_sync(receive_answer, abandon_on_cancel=True)

    result = await perform(
        scenario, "", log_path=log_path, wav_path=wav_path, keep_events=True, on_event=port_of, controls=performer
    )
    events = result.events
    oks = [ok for ok, _ in answers]
    assert oks == [1, 1, 1, 0, 1, 1, 1], answers
    assert answers[3][1].startswith("rejected: swap: conductor.kind: unknown kind 'bogus'")
    inputs = [e for e in events if e.source == "control" and not isinstance(e, ev.SurfaceStarted)]
    assert [type(e).__name__ for e in inputs] == ["Steer", "Steer", "Control", "Control", "Steer", "Steer", "Control"]
    acted = {e.cause: e for e in events if isinstance(e, ev.SteerActed)}
    steer, energy = inputs[0], inputs[1]
    assert acted[steer.seq].intent == "darker" and acted[energy.seq].intent == "energy_up"
    plans = {e.bar: e.plan for e in events if isinstance(e, ev.BarPlanned)}
    assert plans[acted[energy.seq].bar].target == 0.9
    assert [(e.slot, e.new) for e in events if isinstance(e, ev.ActorSwapped)] == [("critic", "none")]
    assert [e.intent for e in acted.values()][2:] == ["hold", "resume"]
    planned = next(e for e in events if isinstance(e, ev.StopPlanned))
    assert planned.cause == inputs[-1].seq and result.summary.bars_played == planned.end_bar < 3000
    assert isinstance(events[-1], ev.SetEnded) and events[-1].reason == "stopped"
    feedback = {m.address for m in heard}
    assert {"/bergain/bar", "/bergain/phase", "/bergain/energy"} <= feedback, feedback
    bar_numbers = [m.params[0] for m in heard if m.address == "/bergain/bar"]
    assert bar_numbers == sorted(bar_numbers)
    verdict = replay.verify(result.log_path, warn=lambda m: None)
    assert verdict.verified and verdict.done == len(read_all(result.log_path)[1])


async def test_a_taken_port_is_a_clear_error(scenario_factory, tmp_path):
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    try:
        scenario = scenario_factory(bars=4, control={"osc_port": taken.getsockname()[1]})
        log_path, wav_path = set_paths(scenario, tmp_path, stamp="taken")
        with pytest.raises(BaseException) as caught:
            await perform(scenario, "", log_path=log_path, wav_path=wav_path)
        errors = caught.value.exceptions if isinstance(caught.value, BaseExceptionGroup) else [caught.value]
        assert [str(e) for e in errors] == [
            f"control.osc_port: cannot listen on 127.0.0.1:{taken.getsockname()[1]}: Address already in use"
        ]
    finally:
        taken.close()


def test_run_with_a_taken_osc_port_exits_2_naming_the_key(tmp_path, capsys):
    from bergain_actors.cli import main
    from tests.conftest import ROOT

    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    try:
        toml = tmp_path / "osc.toml"
        toml.write_text(
            f'name = "osc"\nbars = 8\nsample_pack = "{ROOT / "sample_pack"}"\n[control]\nosc_port = {port}\n'
        )
        assert main(["run", str(toml), "--fast", "--out", str(tmp_path), "--no-report"]) == 2
        err = capsys.readouterr().err
        assert f"bergain-actors: control.osc_port: cannot listen on 127.0.0.1:{port}: Address already in use" in err
    finally:
        taken.close()
