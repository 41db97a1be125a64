"""The OSC control surface: TouchOSC, Open Stage Control or any OSC sender steers the set over UDP.

Accepted (each becomes the same event the terminal's command would, through the ``Desk``):

- ``/bergain/steer s`` words for the Conductor; ``/bergain/cmd s`` any command line
- ``/bergain/energy f`` an energy level 0..1 (a fader)
- ``/bergain/swap s s`` slot, kind
- ``/bergain/hold``, ``/bergain/resume``, ``/bergain/stop`` (optional ``s`` ``now`` or ``i`` bars)

Every message is answered to its sender with ``/bergain/answer i s`` (1 ok / 0 rejected, the answer). Every bar,
each sender heard so far gets ``/bergain/bar i``, ``/bergain/phase s`` and ``/bergain/energy f f`` (actual,
target) for its display. The socket is trio's; python-osc only encodes and decodes.
"""

from __future__ import annotations

import contextlib
import socket

import trio
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from bergain_actors.control import commands
from bergain_actors.control.desk import Answer, Desk
from bergain_actors.core import events as ev

PREFIX = "/bergain/"
MAX_CLIENTS = 16
"""Senders that get the bar-by-bar feedback (the latest ones)."""


def encode(address: str, *args: int | float | str) -> bytes:
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


def messages(data: bytes) -> list[OscMessage]:
    """The OSC messages in a datagram (a bundle's too); raises ValueError when it is not OSC."""
    try:
        if OscBundle.dgram_is_bundle(data):
            out: list[OscMessage] = []
            for item in OscBundle(data):
                out.extend([item] if isinstance(item, OscMessage) else messages(item.dgram))
            return out
        return [OscMessage(data)]
    except Exception as exc:  # python-osc raises its own parse errors (and IndexError/struct.error on junk)
        raise ValueError(f"not an OSC message ({exc})") from None


def command(address: str, params: list[object]) -> commands.Parsed:
    """The command an OSC message means (pure: the same events as the terminal's commands)."""
    name = address.removeprefix(PREFIX) if address.startswith(PREFIX) else ""
    shown = " ".join([address, *(str(p) for p in params)])
    match name, params:
        case "steer", [str(words)] if words.strip():
            return commands.steer(words.strip())
        case "cmd", [str(line)]:
            return commands.parse(line)
        case "energy", [int(level) | float(level)]:
            return commands.energy_level(float(level), f"energy {float(level):g}")
        case "swap", [str(slot), str(kind)]:
            return commands.swap(slot, kind)
        case "hold", []:
            return commands.parse("hold")
        case "resume", []:
            return commands.parse("resume")
        case "stop", []:
            return commands.parse("stop")
        case "stop", [str(how)]:
            return commands.parse(f"stop {how}")
        case "stop", [int(bars)]:
            return commands.parse(f"stop {bars}")
    return ev.CommandRejected(command=shown, reason=f"OSC: {address} with {_types(params)} is not a command")


def _types(params: list[object]) -> str:
    return "(" + ",".join(type(p).__name__ for p in params) + ")" if params else "no arguments"


class Feedback:
    """Bar, phase and energy for the surfaces' displays, from the bus (a tap: synchronous, never blocks)."""

    def __init__(self) -> None:
        self.send, self.receive = trio.open_memory_channel[bytes](64)
        self.plans: dict[int, ev.BarPlanned] = {}

    def tap(self, event: ev.Event) -> None:
        if isinstance(event, ev.BarPlanned):
            self.plans[event.seq] = event
        elif isinstance(event, ev.BarPlayed):
            planned = self.plans.get(event.plan_seq)
            for seq in [s for s in self.plans if s < event.plan_seq]:
                del self.plans[seq]
            if planned is None:
                return
            plan = planned.plan
            for packet in (
                encode("/bergain/bar", event.bar),
                encode("/bergain/phase", plan.phase),
                encode("/bergain/energy", float(plan.energy), float(plan.target)),
            ):
                try:
                    self.send.send_nowait(packet)
                except (trio.WouldBlock, trio.ClosedResourceError):
                    return  # a display that cannot keep up misses a bar; the set never waits for it


async def listen(host: str, port: int) -> trio.socket.SocketType:
    """The surface's UDP socket, bound before the set starts (a taken port is the user's to fix: OSError)."""
    sock = trio.socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        await sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"control.osc_port: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


async def serve(
    desk: Desk, sock: trio.socket.SocketType, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Take OSC commands on ``sock`` until cancelled (started once ``SurfaceStarted`` is logged); the socket is
    closed at the end."""
    host, bound = sock.getsockname()[:2]
    desk.bus.publish(ev.SurfaceStarted(kind="osc", address=f"{host}:{bound}"), source=desk.source)
    feedback = Feedback()
    desk.bus.taps.append(feedback.tap)
    clients: dict[tuple[str, int], None] = {}
    task_status.started()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_send_feedback, sock, feedback, clients)
            while True:
                data, sender = await sock.recvfrom(65536)
                clients.pop(sender, None)
                clients[sender] = None
                while len(clients) > MAX_CLIENTS:
                    clients.pop(next(iter(clients)))
                for answer in _answers(desk, data):
                    await _send(sock, encode("/bergain/answer", int(answer.ok), answer.text), sender)
    finally:
        desk.bus.taps.remove(feedback.tap)
        sock.close()


def _answers(desk: Desk, data: bytes) -> list[Answer]:
    try:
        found = messages(data)
    except ValueError as exc:
        return [desk.apply(ev.CommandRejected(command=f"{len(data)} bytes", reason=f"OSC: {exc}"))]
    return [desk.apply(command(m.address, list(m.params))) for m in found]


async def _send_feedback(sock: trio.socket.SocketType, feedback: Feedback, clients: dict[tuple[str, int], None]):
    async for packet in feedback.receive:
        for client in list(clients):
            await _send(sock, packet, client)


async def _send(sock: trio.socket.SocketType, packet: bytes, to: tuple[str, int]) -> None:
    with contextlib.suppress(OSError):  # a display that went away must not take the surface down
        await sock.sendto(packet, to)
