"""Index any folder of samples into roles the Conductor understands, decoded once to the engine's format.

Roles come from folder names first (the deepest folder that names one wins), then from the file name, using
bergain's folder vocabulary and common sample-pack synonyms. Everything is decoded up front, at index time, so
nothing reads files mid-set; a file that cannot be read is skipped with a warning, never a crash. Each sample's pitch
classes are known from then on too (``keys.py``: from its name, else estimated from its audio), so a set can keep
its key when it swaps samples.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from bergain_actors.music import copy_cache, keys
from bergain_actors.music.shared_audio import SharedAudio

AUDIO_EXTENSIONS = frozenset({".wav", ".wave", ".aif", ".aiff", ".aifc", ".flac", ".ogg", ".oga", ".mp3"})

ROLE_ORDER = (
    "kick",
    "hihat",
    "hat_loop",
    "clap",
    "snare",
    "perc",
    "ride",
    "bass",
    "bassline",
    "synth",
    "texture",
    "fx",
    "drum_loop",
    "other",
)
"""Roles in listing order; `other` holds files no name could place."""

_SYNONYMS: dict[str, str] = {
    "kick": "kick kicks kickdrum kickdrums bd bassdrum bassdrums",
    "clap": "clap claps handclap handclaps",
    "snare": "snare snares sd snr",
    "hihat": "hat hats hh hihat hihats openhat openhats closedhat closedhats",
    "ride": "ride rides cymbal cymbals crash crashes",
    "perc": "perc percs percussion perx tom toms shaker shakers rim rims rimshot rimshots conga congas bongo bongos "
    "cowbell cowbells clave claves tambourine",
    "bass": "bass basses sub subs bassline basslines reese",
    "synth": "synth synths stab stabs lead leads chord chords keys pluck plucks",
    "texture": "pad pads texture textures atmos atmo atmosphere atmospheres ambience drone drones",
    "fx": "fx sfx effect effects riser risers impact impacts uplifter uplifters downlifter downlifters sweep sweeps",
    "drum_loop": "drumloop drumloops break breaks breakbeat breakbeats",
    "hat_loop": "hatloop hatloops toploop toploops tops",
}
"""Words (lower-case letter runs of a folder or file name) that name a role."""
_TOKEN_ROLE = {token: role for role, words in _SYNONYMS.items() for token in words.split()}
_ROLE_PRIORITY = (
    "drum_loop",
    "hat_loop",
    "kick",
    "clap",
    "snare",
    "hihat",
    "ride",
    "perc",
    "bass",
    "synth",
    "texture",
    "fx",
)
"""When one name mentions several roles ("Kick & Hat loops"), the first of these wins."""
_LOOP_TOKENS = frozenset({"loop", "loops", "looped", "bar", "bars"})
_BPM_RE = re.compile(r"(?<!\d)(\d{2,3})[\s_-]*bpm", re.IGNORECASE)
_BARS_RE = re.compile(r"(?<!\d)(\d{1,2})[\s_-]*bars?(?![a-z])", re.IGNORECASE)
_STANDARD_BARS = (1, 2, 4, 8, 16)
_DEFAULT_BPM = 128.0
"""Tempo assumed to guess the bar length of a loop whose name gives neither bars nor BPM."""
MAX_SAMPLE_S = 600
"""The longest file taken for a sample: a longer one (a recorded set) is skipped with a warning, not decoded."""


def _tokens(name: str) -> list[str]:
    return re.findall(r"[a-z]+", name.lower())


def _component_role(name: str) -> str | None:
    """The role one path component names, if any ("Drum Loops" -> drum_loop, "Kickdrums" -> kick)."""
    tokens = _tokens(name)
    found = set()
    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if nxt in ("loop", "loops") and tok in ("drum", "drums", "beat", "beats", "groove", "grooves"):
            found.add("drum_loop")
        elif nxt in ("loop", "loops") and tok in ("hat", "hats", "hihat", "hihats", "hh", "top", "tops"):
            found.add("hat_loop")
        elif nxt in ("drum", "drums") and tok == "bass":
            found.add("kick")
        elif tok in _TOKEN_ROLE:
            found.add(_TOKEN_ROLE[tok])
    return next((role for role in _ROLE_PRIORITY if role in found), None)


def classify(rel_path: str) -> tuple[str, bool]:
    """(role, looks_like_a_loop) for a path relative to the pack root, from its names alone."""
    parts = rel_path.split("/")
    folders, stem = parts[:-1], Path(parts[-1]).stem
    role = next((r for r in (_component_role(f) for f in reversed(folders)) if r), None) or _component_role(stem)
    loop = bool(_BARS_RE.search(stem)) or any(t in _LOOP_TOKENS for t in _tokens(stem))
    loop = loop or any(t in ("loop", "loops") for f in folders for t in _tokens(f))
    if role in ("drum_loop", "hat_loop"):
        loop = True
    elif role == "hihat" and loop:
        role = "hat_loop"
    elif role == "bass" and loop:
        role = "bassline"
    return role or "other", loop


def _parse_bpm(stem: str) -> float | None:
    m = _BPM_RE.search(stem)
    bpm = float(m.group(1)) if m else None
    return bpm if bpm is not None and 40 <= bpm <= 300 else None


def _nearest_bars(exact: float) -> int:
    return min(_STANDARD_BARS, key=lambda b: abs(np.log2(b) - np.log2(max(exact, 1e-9))))


@dataclass(frozen=True, eq=False, slots=True)
class Sample:
    """One decoded sample: float32 stereo (frames, 2) at the pack's sample rate. Never logged."""

    id: str
    role: str
    path: Path
    data: np.ndarray = field(repr=False)
    is_loop: bool
    bpm: float | None
    bars: int | None
    peak: float
    rms: float
    pitches: tuple[int, ...] = ()
    """Pitch classes it sounds (``keys.pitch_classes``): from its name, else estimated at load; () for no pitch."""
    pitch_from: str = ""
    """Where ``pitches`` came from: ``name``, ``estimate``, or "" (no pitch)."""

    @property
    def frames(self) -> int:
        return int(self.data.shape[0])


@dataclass(frozen=True, eq=False)
class SamplePack:
    """Every usable sample under `root`, by id (path relative to root, forward slashes)."""

    root: Path
    sample_rate: int
    samples: dict[str, Sample]
    content_hash: str
    """sha256 over the sorted (relative path, file bytes) of every indexed file: the log header stores it."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Files that could not be decoded (relative path → why): each set says so (``SampleSkipped``)."""
    decoded_by: str = ""
    """The decoder that made the samples' audio from the files (soundfile's and libsndfile's versions): with the
    content hash and the rate, it names that audio, so the renderer's copies kept on disk are named by it
    (``copy_cache``); "" for a pack not decoded from files, whose copies are kept in memory only."""

    def by_role(self, role: str) -> list[Sample]:
        """Samples of one role, sorted by id so choices by index are deterministic."""
        return sorted((s for s in self.samples.values() if s.role == role), key=lambda s: s.id)

    def roles(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in self.samples.values():
            counts[s.role] = counts.get(s.role, 0) + 1
        return {r: counts[r] for r in sorted(counts, key=_role_sort_key)}

    def listing(self) -> str:
        """A plain-text table of roles with loop / one-shot counts, for `bergain-actors samples`."""
        rows = [("role", "total", "loops", "one-shots")]
        for role, n in self.roles().items():
            loops = sum(1 for s in self.samples.values() if s.role == role and s.is_loop)
            rows.append((role, str(n), str(loops), str(n - loops)))
        n_loops = sum(1 for s in self.samples.values() if s.is_loop)
        rows.append(("total", str(len(self.samples)), str(n_loops), str(len(self.samples) - n_loops)))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = [
            f"{r[0]:<{widths[0]}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(r[1:], widths[1:], strict=True))
            for r in rows
        ]
        lines.insert(1, "-" * len(lines[0]))
        lines.insert(-1, "-" * len(lines[0]))
        lines.append(f"{self.root}  {self.sample_rate} Hz  sha256 {self.content_hash[:16]}")
        return "\n".join(lines)


def _role_sort_key(role: str) -> tuple[int, str]:
    return (ROLE_ORDER.index(role) if role in ROLE_ORDER else len(ROLE_ORDER), role)


_PHASES = 2048
"""Sub-sample positions of the resampling kernel table (position error <= 1/4096 frame, about -80 dB at 5 kHz)."""


def resample(data: np.ndarray, n_out: int, *, circular: bool = False, half_taps: int = 16) -> np.ndarray:
    """Windowed-sinc (Kaiser, beta 8.6) resampling of (frames, channels) float32 to exactly `n_out` frames.

    Output frame j reads input position j * n_in / n_out, computed with integers so it is exact and
    deterministic; the kernel comes from a table of `_PHASES` sub-sample positions. When shrinking, the kernel
    widens to low-pass below the new Nyquist (anti-aliasing). `circular` wraps the edges, for loops; otherwise
    the signal is zero outside the file.
    """
    n_in = data.shape[0]
    if n_out == n_in:
        return np.ascontiguousarray(data, dtype=np.float32)
    cutoff = min(1.0, n_out / n_in) * 0.96
    width = int(np.ceil(half_taps / cutoff))
    offsets = np.arange(-width + 1, width + 1)
    t = offsets[None, :] - np.arange(_PHASES + 1)[:, None] / _PHASES
    table = np.sinc(cutoff * t) * np.i0(8.6 * np.sqrt(np.clip(1.0 - (t / width) ** 2, 0.0, None)))
    table = (table / table.sum(axis=1, keepdims=True)).astype(np.float32)
    src = np.ascontiguousarray(data, dtype=np.float32)
    if not circular:
        src = np.concatenate(
            [np.zeros((width, src.shape[1]), np.float32), src, np.zeros((width + 1, src.shape[1]), np.float32)]
        )
    out = np.empty((n_out, data.shape[1]), np.float32)
    chunk = max(1, (1 << 18) // (2 * width))
    for j0 in range(0, n_out, chunk):
        j = np.arange(j0, min(n_out, j0 + chunk), dtype=np.int64)
        base = j * n_in // n_out
        phase = ((j * n_in - base * n_out) * _PHASES + n_out // 2) // n_out
        idx = base[:, None] + offsets[None, :]
        idx = idx % n_in if circular else idx + width
        out[j0 : j0 + len(j)] = np.einsum("jk,jkc->jc", table[phase], src[idx])
    return out


def resample_rate(data: np.ndarray, rate_in: int, rate_out: int, *, circular: bool = False) -> np.ndarray:
    """Sample-rate conversion: round(frames * rate_out / rate_in) output frames."""
    n_out = (data.shape[0] * rate_out + rate_in // 2) // rate_in
    return resample(data, n_out, circular=circular)


_Kept = tuple[copy_cache.DiskCopies, tuple[str, str, int]]
"""Where a file's derived arrays are kept on disk (``copy_cache``) and what names them: the file's bytes hashed, the
decoder and the rate."""


def _decode(raw: bytes, sample_rate: int, loop: bool, kept: _Kept | None = None) -> np.ndarray:
    import soundfile as sf  # here: 2.5 MB that the render worker, which decodes nothing, does without

    if not raw:
        raise ValueError("empty file")
    data, rate = sf.read(io.BytesIO(raw), dtype="float32", always_2d=True)
    if data.shape[0] == 0:
        raise ValueError("no audio frames")
    if data.shape[1] == 1:
        data = np.repeat(data, 2, axis=1)
    elif data.shape[1] > 2:
        data = data[:, :2]
    if rate != sample_rate:
        data = _resampled(data, rate, sample_rate, loop, kept)
    if not np.all(np.isfinite(data)):
        raise ValueError("non-finite sample values")
    return np.ascontiguousarray(data, dtype=np.float32)


def _file_name(raw: bytes, rate: int) -> tuple[str, str, int]:
    """What names the arrays derived from a file (``_Kept``): its bytes hashed, the decoder, the rate."""
    return hashlib.blake2b(raw, digest_size=16).hexdigest(), decoder(), rate


def _resampled(data: np.ndarray, rate: int, sample_rate: int, loop: bool, kept: _Kept | None) -> np.ndarray:
    """``data`` at ``sample_rate``, kept on disk (a set at another rate than its pack's files resampled the shipped
    pack in 2 s at every start)."""
    name = "" if kept is None else copy_cache.name(kept[1], ("resampled", loop))
    found = kept[0].get(name) if kept is not None else None
    if found is not None:
        return np.array(found)  # a writable copy, as a decode gives
    data = resample_rate(data, rate, sample_rate, circular=loop)
    if kept is not None:
        kept[0].put(name, data)
    return data


def _facts(kept: _Kept | None, stem: str, data: np.ndarray, rate: int) -> tuple[float, float, tuple[int, ...], str]:
    """The sample's peak, RMS, pitch classes and where they came from; the first three kept on disk with the
    renderer's copies (``copy_cache``, named by the file's bytes, the decoder, the rate and the name), so that a
    set's start, which waits for its pack, does not estimate a pitch again (a transform of the whole sample, 0.1 s
    of the shipped pack's 0.17 s)."""
    named = keys.from_name(stem)
    name = "" if kept is None else copy_cache.name(kept[1], ("facts", stem))
    if kept is not None:
        found = kept[0].get(name)
        if found is not None:
            peak, rms, *estimated = (float(x) for x in found[:, 0])
            pitches = named if named is not None else tuple(int(p) for p in estimated)
            return peak, rms, pitches, "name" if named is not None else "estimate" if pitches else ""
    peak, rms = _levels(data)
    pitches, pitch_from = keys.pitch_classes(stem, data, rate)
    if kept is not None:
        estimated = () if named is not None else pitches
        kept[0].put(name, np.array([peak, rms, *estimated], np.float64).reshape(-1, 1))
    return peak, rms, pitches, pitch_from


def _check_length(path: Path) -> None:
    """A file longer than ``MAX_SAMPLE_S`` by its header is refused before it is read: a recorded set is no sample."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception:  # no header to read: decoding the file says why
        return
    if info.frames > MAX_SAMPLE_S * info.samplerate:
        raise ValueError(f"{info.frames / info.samplerate:.0f} s long: a sample lasts {MAX_SAMPLE_S} s at most")


def _levels(data: np.ndarray) -> tuple[float, float]:
    """The sample's peak and RMS (over both channels), in one float64 copy of it: a set's process decodes the pack
    at its start, where the largest sample's transients made most of its peak RSS."""
    peak = float(np.max(np.abs(data)))  # exact in float32
    squares = data.reshape(-1).astype(np.float64)
    squares *= squares
    return peak, float(np.sqrt(np.mean(squares)))


def _loop_bars(stem: str, frames: int, sample_rate: int, bpm: float | None) -> int:
    m = _BARS_RE.search(stem)
    if m and int(m.group(1)) > 0:
        return int(m.group(1))
    beats = frames / sample_rate * (bpm or _DEFAULT_BPM) / 60.0
    return _nearest_bars(beats / 4.0)


MAX_FILES = 10_000
"""More audio files than this under one folder is a disk, not a sample pack (``samples /tmp``): refused before one
is decoded, as decoding them all would take hours and more memory than the machine has."""
MAX_PACK_BYTES = 4 << 30
"""Decoded audio a pack may hold (about 3 hours of stereo at 44.1 kHz): more is refused as the scan reaches it, not
left to take the machine's memory (``samples /tmp`` took 24 GB before it was killed)."""


class PackTooBig(OSError):
    """A folder with more audio than a pack may hold (an OSError: every command refuses it as a missing pack)."""


Progress = Callable[[str, int, int], None]
"""Told how a scan goes: ``("folders", folders seen, audio files found)`` while it walks the tree, then
``("decoded", files done, files in all)`` after each file."""


def _audio_files(root: Path, progress: Progress) -> list[tuple[str, Path]]:
    found = []
    for folders, (here, subfolders, files) in enumerate(os.walk(root), start=1):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and d != "__MACOSX")
        for name in files:
            path = Path(here, name)
            if not name.startswith(".") and path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file():
                found.append((path.relative_to(root).as_posix(), path))
        if len(found) > MAX_FILES:
            raise PackTooBig(f"{root}: more than {MAX_FILES} audio files: a sample pack is one folder of samples")
        progress("folders", folders, len(found))
    return sorted(found)


def index_pack(
    root: Path,
    sample_rate: int = 44100,
    warn: Callable[[str], None] | None = None,
    shared: SharedAudio | None = None,
    progress: Progress | None = None,
) -> SamplePack:
    """Scan `root` recursively, classify and decode every audio file; skip (and warn about) unreadable ones.
    With ``shared``, each sample's audio goes there as it is decoded, and the pack's samples are views of it: the
    decoded pack is never in this process's memory at once, nor after (``SharedAudio``). A folder of more than
    ``MAX_FILES`` audio files is refused (``PackTooBig``) before any is decoded, one of more than ``MAX_PACK_BYTES``
    of decoded audio as the scan reaches them; a file longer than ``MAX_SAMPLE_S`` is skipped."""
    root = Path(root)
    warn = warn or (lambda msg: warnings.warn(msg, stacklevel=3))
    progress = progress or (lambda stage, done, total: None)
    if not root.is_dir():
        raise FileNotFoundError(f"sample pack folder not found: {root}")
    digest = hashlib.sha256()
    samples: dict[str, Sample] = {}
    skipped: dict[str, str] = {}
    disk = copy_cache.from_environment()
    files = _audio_files(root, progress)
    decoded = 0
    for done, (rel, path) in enumerate(files, start=1):
        progress("decoded", done - 1, len(files))
        role, loop = classify(rel)
        stem = Path(rel).stem
        try:
            _check_length(path)
            raw = path.read_bytes()
            kept = None if disk is None else (disk, _file_name(raw, sample_rate))
            data = _decode(raw, sample_rate, loop, kept)
        except Exception as exc:  # any unreadable file is skipped, never fatal
            reason = getattr(exc, "error_string", None) or str(exc)
            skipped[rel] = f"{type(exc).__name__}: {reason}"
            warn(f"skipping sample {rel}: {skipped[rel]}")
            continue
        decoded += data.nbytes
        if decoded > MAX_PACK_BYTES:
            raise PackTooBig(f"{root}: more than {MAX_PACK_BYTES >> 30} GB of decoded audio: too much for one pack")
        name = rel.encode()
        digest.update(len(name).to_bytes(8, "little") + name + len(raw).to_bytes(8, "little") + raw)
        bpm = next((b for b in map(_parse_bpm, [stem, *reversed(rel.split("/")[:-1])]) if b), None)
        bars = _loop_bars(stem, data.shape[0], sample_rate, bpm) if loop else None
        peak, rms, pitches, pitch_from = _facts(kept, stem, data, sample_rate)
        if shared is not None:
            shared.put(rel, data)
        samples[rel] = Sample(
            id=rel,
            role=role,
            path=path,
            data=data if shared is None else _NOT_YET,
            is_loop=loop,
            bpm=bpm,
            bars=bars,
            peak=peak,
            rms=rms,
            pitches=pitches,
            pitch_from=pitch_from,
        )
    progress("decoded", len(files), len(files))
    if shared is not None:
        samples = {rel: replace(sample, data=shared.view(rel)) for rel, sample in samples.items()}
    return SamplePack(root, sample_rate, samples, digest.hexdigest(), skipped, decoder())


def decoder() -> str:
    """What decodes a pack's files (``SamplePack.decoded_by``)."""
    import soundfile as sf

    return f"soundfile {sf.__version__}, {sf.__libsndfile_version__}"


_NOT_YET = np.zeros((0, 2), np.float32)
"""A shared sample's audio until it is all written and mapped."""
