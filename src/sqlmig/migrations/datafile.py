"""A large data file (``files.LARGE_FILE_BYTES``): COPY rows streamed from disk, never held.

    scan(file) ─▶ Layout: the skeleton (the file's text, each COPY block's rows
                  replaced by as many empty lines), its pieces as copy.blocks()
                  gives them, and each block's rows as a byte range of the file
    stream(cur, file, block, rows)   the range sent through COPY, a chunk at a time
    stored_text(file)                what the ledger keeps: rows become one marker line

The skeleton has the file's line numbers, so everything that reports a line
(the executor, failures, ``-v``) works on it unchanged, at one character per
row. The scan reads SQL a line at a time (data files hold little SQL) and rows
in 1 MiB chunks with ``bytes.find`` (the ``\\.`` line), ``bytes.count`` (lines)
and SHA-256: no per-row Python work, here or when the rows are sent.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

from sqlmig.core.errors import MigrationFailed
from sqlmig.core.paths import display_path
from sqlmig.migrations import copy
from sqlmig.migrations.files import SqlFile

if TYPE_CHECKING:
    from psycopg import Cursor

_BOM = b"\xef\xbb\xbf"
#: Bytes per COPY write: psycopg's largest single message (128 KiB), so it sends each
#: read as it is instead of slicing (copying) a larger one.
_SEND = 128 << 10
#: The ledger's stand-in for a block's rows (see :func:`marker`).
MARKER_PREFIX = "-- sqlmig: COPY data not stored in the ledger:"


@dataclass(frozen=True)
class Rows:
    """A COPY block's rows in the file: bytes [start, end) and their line count."""

    start: int
    end: int
    lines: int


@dataclass(frozen=True)
class Layout:
    """A scanned large file; ``found`` is None when it has no COPY block.

    ``digests``: each block's SHA-256, taken as its rows are sent (the client
    waits for the server then) or, for a file that does not run, by :func:`stored_text`.
    """

    skeleton: str
    found: list[copy.CopyBlock | tuple[int, str]] | None
    rows: dict[int, Rows]  # by the CopyBlock's offset in the skeleton
    stamp: tuple[int, int]  # size and mtime when scanned: a change fails the file
    digests: dict[int, str] = field(default_factory=dict)


class ScanProblem(copy.CopyProblem):
    """A :class:`copy.CopyProblem` at ``offset`` of ``text`` (the skeleton read so far)."""

    def __init__(self, offset: int, message: str, text: str) -> None:
        super().__init__(offset, message)
        self.text = text


def scan(file: SqlFile) -> Layout:
    """Find the COPY blocks of a large file, reading it once; raises :class:`ScanProblem`."""
    parts: list[str] = []  # the skeleton so far
    found: list[copy.CopyBlock | tuple[int, str]] = []
    rows: dict[int, Rows] = {}
    piece: list[str] = []  # SQL lines since the last block
    piece_at = 0  # where the piece starts in the skeleton
    with open(file.path, "rb") as handle:
        status = os.fstat(handle.fileno())
        if handle.read(3) != _BOM:
            handle.seek(0)
        while raw := handle.readline():
            line = _decode(raw, parts, piece)
            piece.append(line)
            if not copy.is_candidate(line):
                continue
            text = "".join(piece)
            start = len(text) - len(line.lstrip(" \t"))
            try:
                if not copy.starts_statement(text, 0, start):
                    continue
                for _ in range(200):  # to its semicolon: a COPY is a few lines
                    if copy.statement_end(text, start) is not None:
                        break
                    if not (raw := handle.readline()):
                        break
                    piece.append(_decode(raw, parts, piece))
                    text += piece[-1]
                statement = copy.statement_at(text, 0, start)
            except copy.CopyProblem as bad:
                so_far = "".join(parts) + text
                raise ScanProblem(piece_at + bad.offset, bad.message, so_far) from None
            if statement is None:
                continue
            block_at = piece_at + start
            data = _rows(handle, handle.tell())
            if data is None:
                raise ScanProblem(block_at, copy.MISSING_END, "".join(parts) + text)
            if text[:start].strip():
                found.append((piece_at, text[:start]))
            data_start = piece_at + len(text)
            data_end = data_start + data.lines
            found.append(copy.CopyBlock(block_at, statement[0], data_start, data_end))
            rows[block_at] = data
            handle.seek(data.end)
            end_line = _decode(handle.readline(), parts, piece)
            parts += [text, "\n" * data.lines, end_line]
            piece_at = data_end + len(end_line)
            piece = []
    text = "".join(piece)
    if found and text.strip():
        found.append((piece_at, text))
    parts.append(text)
    stamp = (status.st_size, status.st_mtime_ns)
    return Layout("".join(parts), found or None, rows, stamp)


def skeleton(file: SqlFile) -> tuple[SqlFile, Layout | None, tuple[int, str] | None]:
    """The file the executor prepares for a large ``file``: its skeleton, and the layout
    when it has COPY blocks (else the skeleton is its whole text); or a problem."""
    try:
        layout = scan(file)
    except ScanProblem as bad:
        return SqlFile(file.path, bad.text, file.checksum), None, (bad.offset, bad.message)
    text = SqlFile(file.path, layout.skeleton, file.checksum, file.directives, file.requires)
    return text, layout if layout.found is not None else None, None


def _decode(raw: bytes, parts: list[str], piece: list[str]) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        at = sum(map(len, parts)) + sum(map(len, piece))
        text = "".join(parts) + "".join(piece)
        message = "not valid UTF-8 (the file changed?); save it as UTF-8."
        raise ScanProblem(at, message, text) from None


def _rows(handle: BinaryIO, start: int) -> Rows | None:
    """The rows from ``start`` to the ``\\.`` line (None: no such line)."""
    handle.seek(start)
    buf = handle.read(copy.CHUNK)
    eof = not buf
    if buf.startswith(b"\\.") and _ends_line(buf, 2, eof or len(buf) > 3):
        return Rows(start, start, 0)
    at, lines, search = start, 0, 0
    while True:
        hit = buf.find(b"\n\\.", search)
        if hit >= 0:
            ends = _ends_line(buf, hit + 3, eof)
            if ends:
                lines += buf.count(b"\n", 0, hit + 1)
                return Rows(start, at + hit + 1, lines)
            if ends is False:
                search = hit + 1
                continue
        elif eof:
            return None
        cut = hit if hit >= 0 else max(0, len(buf) - 3)  # keep what the next look needs
        lines += buf.count(b"\n", 0, cut)
        more = handle.read(copy.CHUNK)
        eof = not more
        buf, at, search = buf[cut:] + more, at + cut, 0


def _ends_line(buf: bytes, at: int, final: bool) -> bool | None:
    """Does a line end at ``buf[at]`` (as copy's own check)? None: read more to know."""
    if at >= len(buf):
        return True if final else None
    if buf[at] == 0x0A:
        return True
    if buf[at] == 0x0D:
        if at + 1 >= len(buf):
            return True if final else None
        return buf[at + 1] == 0x0A
    return False


def stream(
    cur: Cursor[tuple[object, ...]],
    file: SqlFile,
    layout: Layout,
    block: copy.CopyBlock,
    on_rows: Callable[[int], None] | None = None,
) -> int:
    """Send the block's rows from disk as they are (bytes, as psql does); the rows loaded.

    The rows are hashed as they go (for the ledger's marker); a file changed since
    the scan fails before commit."""
    digest = hashlib.sha256()
    rows = layout.rows[block.offset]
    size = rows.end - rows.start
    with open(file.path, "rb") as handle, cur.copy(block.text) as out:
        status = os.fstat(handle.fileno())
        handle.seek(rows.start)
        left = size
        while left > 0 and (chunk := handle.read(min(_SEND, left))):
            left -= len(chunk)
            out.write(chunk)
            digest.update(chunk)
            if on_rows is not None:  # by bytes sent: the scan counted the lines already
                on_rows(rows.lines * (size - left) // size)
        if left or (status.st_size, status.st_mtime_ns) != layout.stamp:
            raise MigrationFailed(
                f"{display_path(file.path)}: the file changed while it ran; it was rolled back. "
                "Run `sqlmig apply` again once nothing writes to it.",
                path=display_path(file.path),
            )
    layout.digests[block.offset] = digest.hexdigest()
    return max(cur.rowcount, 0)


def marker(rows: Rows, sha256: str) -> str:
    """The ledger's one line for a block's rows: enough to tell two versions apart."""
    return f"{MARKER_PREFIX} {rows.lines} lines, {rows.end - rows.start} bytes, sha256 {sha256}\n"


def _digest(file: SqlFile, rows: Rows) -> str:
    digest = hashlib.sha256()
    with open(file.path, "rb") as handle:
        handle.seek(rows.start)
        left = rows.end - rows.start
        while left > 0 and (chunk := handle.read(min(copy.CHUNK, left))):
            left -= len(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def stored_text(file: SqlFile, layout: Layout | None = None) -> str:
    """What the ledger keeps for ``file``: its text; for a large file with COPY blocks,
    the text with each block's rows replaced by :func:`marker` (the checksum still
    covers every byte)."""
    if layout is None:
        if not file.large:
            return file.stored  # a template's own text, never its rendering
        layout = scan(file)
    if layout.found is None:
        return file.stored
    out, at = [], 0
    for item in layout.found:
        if isinstance(item, copy.CopyBlock):
            rows = layout.rows[item.offset]
            sha = layout.digests.get(item.offset) or _digest(file, rows)
            out += [layout.skeleton[at : item.data_start], marker(rows, sha)]
            at = item.data_end
    out.append(layout.skeleton[at:])
    return "".join(out)


class Runner:
    """Runs a file's pieces (eager or large), counting its COPY rows for ``on_rows``."""

    def __init__(
        self, file: SqlFile, layout: Layout | None, on_rows: Callable[[int], None] | None
    ) -> None:
        self.file, self.layout, self.on_rows, self.done = file, layout, on_rows, 0

    def execute(self, cur: Cursor[tuple[object, ...]], item: copy.Block) -> None:
        if not isinstance(item, copy.CopyBlock):
            cur.execute(item.text, prepare=False)
            return
        done, report = self.done, self.on_rows
        sent = None if report is None else (lambda lines: report(done + lines))
        if self.layout is not None:
            loaded = stream(cur, self.file, self.layout, item, sent)
        else:
            loaded = copy.stream(cur, self.file.body, item, sent)
        self.done += loaded
        if report is not None:
            report(self.done)


def failing_row(
    file: SqlFile, layout: Layout | None, block: copy.CopyBlock, context: str | None
) -> tuple[SqlFile, int]:
    """For a server error in a block's rows: the file to report on and the row's offset.

    Lines are counted only now, on failure. For a large file: a view of the skeleton
    with the rows around the failing one read back from disk (for the excerpt)."""
    if layout is None:
        row_at = copy.row_offset(file.body, block, context)
        return file, row_at if row_at is not None else block.offset
    row = copy.row_number(context)
    if row is None or row > max(layout.rows[block.offset].lines, 1):
        return file, block.offset
    first, last = max(1, row - 2), min(layout.rows[block.offset].lines, row + 2)
    lines = _lines_of(file, layout.rows[block.offset], first, last)
    a, b = block.data_start + first - 1, block.data_start + last
    view = layout.skeleton[:a] + "".join(lines) + layout.skeleton[b:]
    offset = a + sum(len(line) for line in lines[: row - first])
    return SqlFile(file.path, view, file.checksum, file.directives, file.requires), offset


def _lines_of(file: SqlFile, rows: Rows, first: int, last: int) -> list[str]:
    """Lines ``first``..``last`` (1-based) of a block's rows, read from disk."""
    with open(file.path, "rb") as handle:
        handle.seek(rows.start)
        seen, pos, start = 0, rows.start, rows.start
        while seen < first - 1:  # find where line `first` starts, a chunk at a time
            chunk = handle.read(min(copy.CHUNK, rows.end - pos))
            if not chunk:
                break
            count = chunk.count(b"\n")
            if seen + count < first - 1:
                seen, pos = seen + count, pos + len(chunk)
                continue
            at = -1
            for _ in range(first - 1 - seen):
                at = chunk.find(b"\n", at + 1)
            start, seen = pos + at + 1, first - 1
        handle.seek(start)
        return [
            handle.readline().decode("utf-8", errors="replace") for _ in range(last - first + 1)
        ]
