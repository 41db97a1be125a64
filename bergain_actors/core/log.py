"""The append-only performance log.

File: ``MAGIC``, then records. Each record is ``u32 length | u32 crc32(length bytes, payload) | payload``; the
first payload is the msgpack ``LogHeader``, every later one a msgpack event. The reader streams in chunks, stops
at the first torn or corrupt record and says where; a writer reopening a log truncates a torn tail first.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Literal

import msgspec

from bergain_actors.core import events as ev

MAGIC = b"BGNALOG\x00"
LOG_FORMAT = 2
MAX_RECORD = 16 * 1024 * 1024
"""The largest record, header included: the writer refuses a bigger one, so the reader can read all it writes."""
FsyncPolicy = Literal["bar", "event", "never"]

_frame = struct.Struct("<II")
_len = struct.Struct("<I")
PRECIOUS = (ev.LMResponse, ev.LMFailed, ev.Control, ev.ProviderControl, ev.ActorSwapped, ev.SetEnded, ev.ToolResult)
"""Events that are fsynced at once under the ``bar`` policy: they cannot be recomputed from anything else."""


class LogHeader(msgspec.Struct, frozen=True, kw_only=True):
    """Everything needed to replay the set without the scenario file or the CLI flags it ran with."""

    format: int = LOG_FORMAT
    package_version: str
    scenario_path: str
    scenario_text: str
    resolved: dict[str, Any]
    """The scenario after CLI overrides, as plain data (what replay rebuilds the actors from)."""
    seed: int
    pack_hash: str
    sample_rate: int
    created: float = 0.0
    """Wall-clock seconds at creation; informational."""
    source_hash: str = ""
    """Hash of the package's Python source that wrote the log (format 2; empty when unknown): replay warns when
    the code replaying it differs."""
    base_dir: str = ""
    """Where the scenario's relative paths (the sample pack) resolve from, relative to the log's folder (format 2),
    so a project moved with its logs still replays."""


class LogError(Exception):
    """A file that cannot be read as a log at all."""


class DamagedHeader(LogError):
    """A log whose signature is there but whose header is torn or corrupt: damaged, not wrong input (exit 4)."""


class RecordTooLarge(LogError):
    """An event bigger than ``MAX_RECORD``: refused before it is written, so the log stays readable."""


def _v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
    """Format 1 had no code identity and only the scenario folder's absolute path (kept in ``resolved``)."""
    return {**raw, "format": 2, "source_hash": "", "base_dir": ""}


UPCASTERS = {1: _v1_to_v2}
"""Header format N → N + 1. Events need none so far: every field added since format 1 has a default."""


def upcast(raw: dict[str, Any]) -> dict[str, Any]:
    """A header as plain data, of any format this version reads, brought to ``LOG_FORMAT``."""
    while (version := int(raw.get("format", 1))) < LOG_FORMAT:
        raw = UPCASTERS[version](raw)
    return raw


class LogProblem(msgspec.Struct, frozen=True):
    """Why reading stopped before the end of the file."""

    kind: Literal["torn", "corrupt"]
    offset: int
    record: int
    detail: str

    def describe(self, path: str | Path) -> str:
        what = "torn tail" if self.kind == "torn" else "corrupt record"
        return f"{path}: {what} at byte {self.offset} (record {self.record}): {self.detail}; read up to there"


def _frame_payload(payload: bytes) -> bytes:
    length = _len.pack(len(payload))
    return _frame.pack(len(payload), zlib.crc32(payload, zlib.crc32(length))) + payload


class LogWriter:
    """Appends events; durability by group commit (see ``commit_due``). Appends only fill an OS buffer."""

    BUFFER = 1 << 20

    def __init__(self, file: BinaryIO, fsync: FsyncPolicy) -> None:
        self._file = file
        self.fsync = fsync
        self._dirty = False
        self.syncs = 0
        """fsyncs done so far (group commit makes them far fewer than bars when the disk is slow)."""
        self._buf = bytearray()
        self._encode = msgspec.msgpack.Encoder().encode
        self.failure: OSError | None = None
        """The latest write or fsync that failed (a full disk). Records not written stay buffered and are tried
        again at the next flush; the file always ends at a record boundary."""

    @classmethod
    def create(cls, path: Path, header: LogHeader, fsync: FsyncPolicy = "bar") -> LogWriter:
        path.parent.mkdir(parents=True, exist_ok=True)
        file = open(path, "xb", buffering=0)  # noqa: SIM115 - owned by the writer until close()
        writer = cls(file, fsync)
        payload = msgspec.msgpack.encode(header)
        if len(payload) > MAX_RECORD:
            raise RecordTooLarge(f"log header of {len(payload)} bytes is larger than {MAX_RECORD} bytes")
        writer._buf += MAGIC + _frame_payload(payload)
        writer._dirty = True
        writer.commit()
        return writer

    @classmethod
    def reopen(cls, path: Path, fsync: FsyncPolicy = "bar") -> tuple[LogWriter, LogProblem | None]:
        """Open an existing log for appending, truncating a torn or corrupt tail first."""
        reader = LogReader(path)
        for _ in reader:  # read to the end: where the good records stop is where appending resumes
            pass
        file = open(path, "r+b", buffering=0)  # noqa: SIM115
        file.truncate(reader.good_bytes)
        file.seek(reader.good_bytes)
        writer = cls(file, fsync)
        return writer, reader.problem

    def append(self, event: ev.Event) -> None:
        """Frame ``event`` into the write buffer (the OS sees it at the next flush or every MiB). An event bigger
        than ``MAX_RECORD`` raises ``RecordTooLarge`` and nothing is written."""
        payload = self._encode(event)
        size = len(payload)
        if size > MAX_RECORD:
            raise RecordTooLarge(
                f"{type(event).__name__} of {size} bytes is larger than a log record may be ({MAX_RECORD} bytes)"
            )
        buf = self._buf
        buf += _frame.pack(size, zlib.crc32(payload, zlib.crc32(_len.pack(size))))
        buf += payload
        self._dirty = True
        if self.fsync == "event":
            self.commit()
        elif len(buf) >= self.BUFFER:
            self._write()

    def _write(self) -> None:
        start = self._file.tell()
        try:
            with memoryview(self._buf) as view:
                written = 0
                while written < len(view):
                    written += self._file.write(view[written:]) or 0
        except OSError as exc:  # keep the records and cut what part of them got out: the log stays readable
            self.failure = exc
            try:
                self._file.truncate(start)
                self._file.seek(start)
            except OSError:
                pass
            return
        self._buf.clear()

    def write_through(self) -> None:
        """Hand buffered records to the OS without fsync (they stay due for the next commit's fsync)."""
        if self._buf:
            self._write()

    def commit_due(self, event: ev.Event) -> bool:
        """Whether ``event`` closes a group under the ``bar`` policy: a bar boundary or a precious event."""
        return self.fsync == "bar" and isinstance(event, (ev.BarPlayed, *PRECIOUS))

    def flush(self) -> int | None:
        """Hand buffered records to the OS; returns the fd to fsync, or None when nothing was pending."""
        if not self._dirty:
            return None
        self._write()
        self._dirty = False
        return self._file.fileno()

    def sync(self, fd: int) -> None:
        """fsync what ``flush`` handed to the OS (blocking: the bus calls it from a worker thread)."""
        try:
            os.fsync(fd)
        except OSError as exc:
            self.failure = exc
            return
        self.syncs += 1

    def commit(self) -> None:
        """Flush and fsync now (blocking; the bus does the fsync in a worker thread instead)."""
        fd = self.flush()
        if fd is not None and self.fsync != "never":
            self.sync(fd)

    def close(self) -> None:
        if not self._file.closed:
            self._dirty = True
            self.commit()
            self._file.close()


class LogReader:
    """Streams a log's events without loading the file. After iterating, ``problem`` says why it stopped early
    (None when the file ended cleanly) and ``good_bytes`` where the last complete record ends."""

    CHUNK = 1 << 20

    def __init__(self, path: str | Path, end: int | None = None) -> None:
        self.path = Path(path)
        self.end = end
        """Read no further than this byte (an earlier pass's ``good_bytes``): a log its set still writes holds the
        same records on every pass."""
        self.problem: LogProblem | None = None
        self.written_format = LOG_FORMAT
        try:
            size = self.path.stat().st_size
            with open(self.path, "rb") as file:
                head = file.read(len(MAGIC) + _frame.size)
                if head.startswith(MAGIC) and len(head) == len(MAGIC) + _frame.size:
                    length = _frame.unpack_from(head, len(MAGIC))[0]
                    head += file.read(min(length, MAX_RECORD))  # the header, however large it is
        except OSError as exc:
            raise LogError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        if not head.startswith(MAGIC):
            raise LogError(f"{path}: not a bergain-actors log (no log signature at the start)")
        header, end, problem = self._parse_header(head, size)
        if header is None:
            raise DamagedHeader(f"{path}: log header is {problem}; nothing to replay")
        self.header: LogHeader = header
        self._start = end
        self.good_bytes = end

    def _parse_header(self, head: bytes, size: int) -> tuple[LogHeader | None, int, str]:
        pos = len(MAGIC)
        if len(head) < pos + 8:
            return None, pos, f"incomplete (file is {size} bytes)"
        length, crc = _frame.unpack_from(head, pos)
        end = pos + 8 + length
        if length > MAX_RECORD:
            return None, pos, f"corrupt (impossible length {length})"
        if end > len(head):
            return None, pos, f"incomplete (file is {size} bytes)"
        payload = head[pos + 8 : end]
        if zlib.crc32(payload, zlib.crc32(_len.pack(length))) != crc:
            return None, pos, "corrupt (checksum mismatch)"
        try:
            raw = msgspec.msgpack.decode(payload)
        except msgspec.DecodeError as exc:
            return None, pos, f"unreadable ({exc})"
        if not isinstance(raw, dict):
            return None, pos, "unreadable (not a header)"
        self.written_format = int(raw.get("format", 1))  # the header itself is upcast to LOG_FORMAT
        if self.written_format < 1:
            raise LogError(
                f"{self.path}: log format {self.written_format} does not exist (formats 1 to {LOG_FORMAT} do)"
            )
        if self.written_format > LOG_FORMAT:
            raise LogError(
                f"{self.path}: log format {self.written_format} is newer than this version reads ({LOG_FORMAT})"
            )
        try:
            return msgspec.convert(upcast(raw), LogHeader), end, ""
        except (msgspec.ValidationError, KeyError) as exc:
            return None, pos, f"unreadable ({exc})"

    def __iter__(self) -> Iterator[ev.Event]:
        decode = ev._decoder.decode
        crc32 = zlib.crc32
        unpack = _frame.unpack_from
        pack_len = _len.pack
        record = 1
        offset = self._start
        with open(self.path, "rb") as file:
            file.seek(offset)
            buf = b""
            pos = 0
            eof = False
            while True:
                avail = len(buf) - pos
                if avail >= 8:
                    length, crc = unpack(buf, pos)
                    if length > MAX_RECORD:
                        self._stop("corrupt", offset, record, f"impossible record length {length}")
                        return
                    if avail >= 8 + length:
                        payload = buf[pos + 8 : pos + 8 + length]
                        if crc32(payload, crc32(pack_len(length))) != crc:
                            self._stop("corrupt", offset, record, "checksum mismatch")
                            return
                        try:
                            event = decode(payload)
                        except msgspec.DecodeError as exc:
                            self._stop("corrupt", offset, record, f"undecodable payload ({exc})")
                            return
                        pos += 8 + length
                        offset += 8 + length
                        self.good_bytes = offset
                        record += 1
                        yield event
                        continue
                if eof:
                    break
                more = file.read(self.CHUNK if self.end is None else min(self.CHUNK, self.end - file.tell()))
                eof = not more
                buf = buf[pos:] + more
                pos = 0
            left = len(buf) - pos
            if left:
                self._stop("torn", offset, record, f"{left} trailing bytes of an incomplete record")

    def _stop(self, kind: Literal["torn", "corrupt"], offset: int, record: int, detail: str) -> None:
        self.problem = LogProblem(kind, offset, record, detail)


def read_all(path: str | Path) -> tuple[LogHeader, list[ev.Event], LogProblem | None]:
    """Header, every good event and the problem (if any): for small logs and tests."""
    reader = LogReader(path)
    events = list(reader)
    return reader.header, events, reader.problem
