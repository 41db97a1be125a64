"""The renderer's cold copies (stretched loops, widened and reverberated samples, filtered copies, a sweep's spans)
kept on disk across sets: the first bars that need one read it back instead of making it again (a whole-sample
transform each), in a later set, a replay, another process of ``evaluate --jobs``. A pack's facts (each sample's
peak, RMS and estimated pitches: ``pack.index_pack``) are kept the same way, so a set's start transforms no sample.

A copy is named by a hash of what it is made from and how: the pack's content hash (every file's name and bytes),
the decoder's version (``SamplePack.decoded_by``) and the rate, which together name the decoded audio; the
renderer's key (the sample, the copy's length, width, reverb, filter and step); the source of the code that makes
copies and numpy's version. Another input or another recipe is another name, so a copy read back is the very array
the renderer would have made (the same bytes out). Each file holds a CRC-32 of its data, checked on every read:
a truncated or corrupt file is made again (with a warning), never played. Files are written whole under a temporary
name and renamed into place, so sets writing the same copy at once (the test suite's workers, ``evaluate --jobs``)
never see half of one. A copy read back is mapped read-only from the page cache, which the processes that read it
share.

``BERGAIN_ACTORS_CACHE``: unset, the copies go in ``$XDG_CACHE_HOME/bergain-actors/copies`` (``~/.cache`` without
it); ``off`` keeps nothing on disk; any other value is the folder to use. The folder is kept under ``MAX_BYTES``:
past it, the copies used longest ago go.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import mmap
import os
import struct
import threading
import zlib
from pathlib import Path

import numpy as np

ENV = "BERGAIN_ACTORS_CACHE"
MAX_BYTES = 1 << 30
"""The folder's bound (the 60-minute autopilot set keeps 75 MB of copies)."""
HEADER = struct.Struct("<8sQII4s4x")
"""Magic, frames, channels, CRC-32 of the array that follows, its dtype; 32 bytes."""
MAGIC = b"BGNCOPY2"
DTYPES = {b"<f4\0": np.dtype("<f4"), b"<f8\0": np.dtype("<f8")}
"""What a file may hold: a copy's float32 frames, a sample's facts (``pack``) in float64."""
_PRUNE_EVERY = 64 << 20
"""Bytes written between two looks at the folder's size."""

log = logging.getLogger(__name__)


def folder_from_environment() -> Path | None:
    """Where the copies go, or None (``BERGAIN_ACTORS_CACHE=off``)."""
    said = os.environ.get(ENV)
    if said is not None:
        return None if said.strip().lower() in ("off", "0", "no", "") else Path(said).expanduser()
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no home to find: nothing kept
            return None
    return Path(base) / "bergain-actors" / "copies"


_recipe: bytes | None = None


def recipe() -> bytes:
    """A hash of the code that makes copies and facts (``effects``, ``keys``, ``pack``, ``render``) and numpy's
    version: a change to any of them names every file anew."""
    global _recipe
    if _recipe is None:
        from bergain_actors.music import effects, keys, pack, render

        digest = hashlib.blake2b(np.__version__.encode(), digest_size=16)
        for module in (effects, keys, pack, render):
            digest.update(Path(str(module.__file__)).read_bytes())
        _recipe = digest.digest()
    return _recipe


def name(decoded: tuple[str, str, int], key: tuple) -> str:
    """A copy's file name: of the audio it is made from (``decoded``: the pack's content hash, its decoder, the
    rate), the renderer's ``key`` (strings, numbers and tuples, naming the sample: ``repr`` is exact) and the
    ``recipe``."""
    return hashlib.blake2b(recipe() + repr((decoded, key)).encode(), digest_size=20).hexdigest()


class DiskCopies:
    """Copies in one folder, by ``name``: ``get`` maps one read-only, ``put`` writes one."""

    def __init__(self, folder: Path, max_bytes: int = MAX_BYTES) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.written = 0
        """Bytes this process wrote here."""
        self.refused = False
        """The folder refused a read or a write (a full disk, no permission): said once, nothing more written."""
        self._since_prune = _PRUNE_EVERY  # look at the folder's size at the first write
        self._lock = threading.Lock()

    def get(self, name: str) -> np.ndarray | None:
        """The array named ``name``, mapped read-only, or None (none kept, or one that fails its check: removed)."""
        path = self.folder / name
        try:
            with open(path, "rb") as file:
                size = os.fstat(file.fileno()).st_size
                if size < HEADER.size:
                    return self._corrupt(path, f"{size} bytes, shorter than its header")
                memory = mmap.mmap(file.fileno(), size, prot=mmap.PROT_READ, flags=_MAP_FLAGS)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            if not self.refused:
                log.warning("render cache: cannot read %s (%s); copies are made again", path, exc)
            self.refused = True
            return None
        magic, frames, channels, crc, code = HEADER.unpack_from(memory)
        dtype = DTYPES.get(code)
        if magic != MAGIC or dtype is None or size != HEADER.size + frames * channels * dtype.itemsize:
            return self._corrupt(path, f"{size} bytes, not {frames} x {channels} numbers of a known type")
        if zlib.crc32(memoryview(memory)[HEADER.size :]) != crc:
            return self._corrupt(path, "its data fails its CRC-32")
        os.utime(path)  # used now: pruned last
        return np.ndarray((frames, channels), dtype, buffer=memory, offset=HEADER.size)

    def put(self, name: str, copy: np.ndarray) -> None:
        """Keep ``copy`` ((frames, channels) float32, or float64) as ``name``: written whole, then renamed into
        place. A disk that refuses (full, read-only) costs only the copy's next making: a warning, once; this
        process keeps nothing more there."""
        if self.refused:
            return
        code = next((code for code, dtype in DTYPES.items() if copy.dtype == dtype), None)
        if code is None or copy.ndim != 2:
            raise ValueError(f"the render cache keeps float32 or float64 frames, not {copy.dtype} {copy.shape}")
        data = np.ascontiguousarray(copy).data.cast("B")
        header = HEADER.pack(MAGIC, copy.shape[0], copy.shape[1], zlib.crc32(data), code)
        temporary = self.folder / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(temporary, "wb") as file:
                file.write(header)
                file.write(data)
            os.replace(temporary, self.folder / name)
        except OSError as exc:
            log.warning("render cache: cannot keep copies in %s (%s); nothing more is kept there", self.folder, exc)
            self.refused = True
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            return
        with self._lock:
            self.written += len(header) + len(data)
            self._since_prune += len(header) + len(data)
            due = self._since_prune >= _PRUNE_EVERY
            if due:
                self._since_prune = 0
        if due:
            self.prune()

    def prune(self) -> None:
        """Remove the copies used longest ago (and temporary files left by a process that died writing) until the
        folder is under three quarters of ``max_bytes``, once it is over ``max_bytes``."""
        files = []
        try:
            with os.scandir(self.folder) as entries:
                for entry in entries:
                    try:
                        stat = entry.stat()
                    except FileNotFoundError:  # another process pruned it
                        continue
                    files.append((stat.st_mtime, stat.st_size, entry.path))
        except FileNotFoundError:
            return
        total = sum(size for _, size, _ in files)
        if total <= self.max_bytes:
            return
        for _, size, path in sorted(files):
            if total <= self.max_bytes * 3 // 4:
                break
            Path(path).unlink(missing_ok=True)
            total -= size

    def _corrupt(self, path: Path, why: str) -> None:
        log.warning("render cache: %s is corrupt (%s); the copy is made again", path, why)
        path.unlink(missing_ok=True)
        return None


_MAP_FLAGS = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
"""Shared (the page cache's pages, not a copy), populated at once (the copy is read through on its check)."""


def from_environment() -> DiskCopies | None:
    """The copies' folder as the environment says (``folder_from_environment``), or None."""
    folder = folder_from_environment()
    return None if folder is None else DiskCopies(folder)
