"""The audio outputs PortAudio can see, and choosing one by name or index.

Only the ``devices`` command and the device worker process import PortAudio: the set's own process never does,
so an audio server that dies can never hang or abort it.
"""

from __future__ import annotations

import os

import msgspec


class Output(msgspec.Struct, frozen=True):
    """One output device as PortAudio lists it."""

    index: int
    name: str
    host_api: str
    channels: int
    """Most output channels it takes."""
    rate: int
    """Its default sample rate (for JACK: the server's rate, the only one it plays)."""
    default: bool = False
    """Whether it is what the set picks when no device is asked for."""


class NoDevice(Exception):
    """No usable output; the message says why, in one line."""


def outputs() -> list[Output]:
    """Every stereo output, the preferred default marked (JACK's default output when JACK runs: other ALSA
    plugins can shadow it)."""
    if os.environ.get("BERGAIN_NO_AUDIO"):
        raise NoDevice("audio disabled by BERGAIN_NO_AUDIO")
    try:
        import sounddevice as sd
    except OSError as exc:
        raise NoDevice(f"PortAudio is not available ({exc})") from None
    try:
        devices = list(sd.query_devices())
        apis = list(sd.query_hostapis())
    except Exception as exc:  # PortAudio raises its own error types for a broken audio setup
        raise NoDevice(f"cannot list audio devices ({exc})") from None
    jack = [a for a in apis if "JACK" in a["name"] and a["default_output_device"] >= 0]
    default = jack[0]["default_output_device"] if jack else sd.default.device[1]
    found = [
        Output(
            index=i,
            name=d["name"],
            host_api=apis[d["hostapi"]]["name"],
            channels=d["max_output_channels"],
            rate=int(d["default_samplerate"]),
            default=i == default,
        )
        for i, d in enumerate(devices)
        if d["max_output_channels"] >= 2
    ]
    if found and not any(o.default for o in found):
        found[0] = msgspec.structs.replace(found[0], default=True)
    return found


def choose(wanted: str) -> Output:
    """The output ``wanted`` names (an index, or a case-insensitive name substring); empty: the default one."""
    found = outputs()
    if not found:
        raise NoDevice("no audio output device")
    if not wanted:
        return next(o for o in found if o.default)
    chosen = [o for o in found if wanted == str(o.index)] or [o for o in found if wanted.lower() in o.name.lower()]
    if not chosen:
        names = ", ".join(f"{o.index}: {o.name}" for o in found)
        raise NoDevice(f"no output device matches {wanted!r} (have {names})")
    return chosen[0]


def playable_rate(output: Output, rate: int) -> int:
    """The rate to open ``output`` at: ``rate`` itself when it plays it, else its own rate (the set's audio is
    then resampled on the way). Raises ``NoDevice`` when it plays neither."""
    import sounddevice as sd

    problems = []
    for candidate in dict.fromkeys((rate, output.rate)):
        try:
            sd.check_output_settings(device=output.index, samplerate=candidate, channels=2, dtype="float32")
        except Exception as exc:  # PortAudio's own error types: the reason is in the message
            problems.append(f"{candidate} Hz: {exc}")
            continue
        return candidate
    raise NoDevice(f"{output.name} cannot play stereo ({'; '.join(problems)})")


def listing(found: list[Output]) -> str:
    """The ``devices`` command's table."""
    if not found:
        return "no audio output devices"
    lines = [f"{'':2}{'#':>3}  {'name':<32} {'host API':<28} {'ch':>3} {'rate':>7}"]
    for o in found:
        mark = "*" if o.default else ""
        lines.append(f"{mark:2}{o.index:>3}  {o.name[:32]:<32} {o.host_api[:28]:<28} {o.channels:>3} {o.rate:>7}")
    lines.append("* the default output (run --device NAME|INDEX picks another)")
    return "\n".join(lines)
