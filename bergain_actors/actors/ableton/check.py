"""``bergain-actors check``: is Ableton Live usable for a set, and if not, the one thing to fix."""

from __future__ import annotations

import contextlib
import errno
import socket

from bergain_actors.actors.ableton import live
from bergain_actors.actors.ableton.actor import RING
from bergain_actors.actors.ableton.osc import OscClient, OscError
from bergain_actors.core.scenario import AbletonConfig
from bergain_actors.music.palette import SCENES


class NotUsable(Exception):
    """Live cannot be used; the message is one line saying what to do."""


INSTALL = (
    "install AbletonOSC (github.com/ideoforms/AbletonOSC) in Live's Remote Scripts folder and pick it as a"
    " Control Surface in Settings → Link, Tempo & MIDI"
)


async def check(config: AbletonConfig) -> list[str]:
    """Ask Live what it has; the report's lines, or ``NotUsable``."""
    where = f"{config.host}:{config.port}"
    try:
        async with OscClient(
            config.host, config.port, config.reply_port, timeout=config.timeout_s, retries=config.retries
        ) as osc:
            try:
                await osc.query("/live/test")
            except OscError:
                raise NotUsable(_silence(config)) from None
            now = await live.status(osc)
            clips = await live.gather(*[osc.query("/live/track/get/clips/name", t.index) for t in now.tracks])
    except OscError as exc:
        if exc.kind == "bind":
            raise NotUsable(f"{exc}: close the other client, or set [ableton] reply_port") from None
        raise NotUsable(f"AbletonOSC at {where} stopped answering ({exc}); try again") from None
    names = {t.name.lower(): t.index for t in now.tracks if t.midi}
    wanted = {role: getattr(config.tracks, role) for role in live.ROLES}
    lines = [
        f"AbletonOSC   answering at {where} (replies to {config.reply_port})",
        f"Live         {now.version}, {now.tempo:g} BPM, {'playing' if now.playing else 'stopped'}",
        "browser      "
        + ("yes: instruments are loaded for new tracks" if now.browser else "no (upstream AbletonOSC): load by hand"),
        f"tracks       {len(now.tracks)}",
    ]
    for track in now.tracks:
        kind = "MIDI " if track.midi else "audio"
        lines.append(f"  {track.index:>2} {track.name:<16} {kind}  {', '.join(track.devices) or '(no devices)'}")
    lines.append(f"scenes       {len(now.scenes)}")
    plan, slots = [], []
    for role, name in wanted.items():
        index = names.get(name.lower())
        if index is None:
            plan.append(f"{role} → new track {name!r}")
            slots.append(f"{role}: slots 0-{RING - 1} of its new track")
            continue
        plan.append(f"{role} → track {name!r}")
        free, missing = live.ring_slots(clips[index], role, RING)
        if not free:
            raise NotUsable(
                f"track {name!r} ({role}) has a clip in every slot, and the set never overwrites one: add an empty"
                " scene in Live (or delete a clip there), or set [ableton.tracks] " + f"{role} to another track"
            )
        slots.append(
            f"{role}: slots {', '.join(map(str, free))}" + (f" and {missing} in scenes the set adds" if missing else "")
        )
    lines.append("set-up       " + "; ".join(plan))
    if config.mode == "palette":
        lines.append("clip slots   " + _grid_rows(now, clips, wanted, names))
    else:
        lines.append("clip slots   " + "; ".join(slots) + " (the performer's clips are never written over)")
    return lines


def _grid_rows(now: live.LiveStatus, clips: list[tuple], wanted: dict[str, str], names: dict[str, int]) -> str:
    """Where palette mode's grid goes: its scene rows (``live.grid_rows``), and how many scenes it adds."""
    grid = [scene.name for scene in SCENES]
    ours = {role: clips[names[name.lower()]] for role, name in wanted.items() if name.lower() in names}
    rows = live.grid_rows(ours, now.scenes, grid)[: len(grid)]
    added = f" and {len(grid) - len(rows)} scenes the set adds" if len(rows) < len(grid) else ""
    return (
        f"the grid's {len(grid)} scenes in rows {', '.join(map(str, rows)) or 'none'}{added}"
        " (rows with no scene name of the performer's and no clip of theirs on the set's tracks)"
    )


def _silence(config: AbletonConfig) -> str:
    """Why nobody answered, as far as this machine can tell."""
    where = f"{config.host}:{config.port}"
    if config.host in ("127.0.0.1", "localhost"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind((config.host, config.port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return (
                        f"something holds UDP {where} but does not answer /live/test: wrong [ableton] port, or a"
                        f" remote script that replies elsewhere than port {config.reply_port}"
                    )
            else:
                with contextlib.suppress(OSError):
                    probe.close()
                return f"nothing listens on UDP {where}: is Live running? {INSTALL}"
    return f"no answer from AbletonOSC at {where}: is Live running? {INSTALL}; check [ableton] host and port"
