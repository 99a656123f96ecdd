"""Random access to the examples of a training file, for previews that must stay instant.

A JSONL file is indexed by line: the byte offset where each line starts is scanned in
chunks (``LineIndex.scan``, meant for a worker thread; it reports progress, can be stopped,
and the lines found so far are readable while it runs). Reading line ``i`` is then one
``os.pread`` — a 1 GB file opens as fast as a 1 kB one, and memory is 8 bytes a line.

Other formats (CSV, TSV, XLSX, JSON arrays) have no useful line structure: ``RecordsSource``
holds the records ``fttui.datasets.read.iter_records`` yields (those files are small —
the Files API takes JSONL, and the big ones are JSONL).

Both are ``DatasetSource``\\ s: rows (0-based, what a preview shows) mapped to the 1-based
``line`` the linter's findings carry. No Textual import here (import-linter enforces it).
"""

from __future__ import annotations

import bisect
import os
import threading
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

#: Files whose extension is one of these are indexed by line; anything else is read whole.
LINE_FORMATS = frozenset({".jsonl", ".jsonlines", ".ndjson", ""})

#: Formats the preview (and the file pickers) recognise as training files.
DATA_EXTENSIONS = (".jsonl", ".jsonlines", ".ndjson", ".json", ".csv", ".tsv", ".xlsx", ".txt")

CHUNK_SIZE = 8 << 20
FIRST_CHUNK = 256 << 10

ProgressFn = Callable[[int, int], None]
StopFn = Callable[[], bool]


@dataclass(frozen=True, slots=True)
class Row:
    """One example as a preview sees it.

    ``value`` is the parsed JSON value (None when it could not be parsed: then ``error``
    says why), ``raw`` the text of the line (possibly cut at ``max_bytes``), ``size`` the
    full size of the line in bytes, ``line`` its 1-based line number in the file.
    """

    line: int
    value: Any
    raw: str
    size: int
    error: str | None = None
    truncated: bool = False

    @property
    def blank(self) -> bool:
        return self.error is None and self.value is None and not self.raw.strip()


class DatasetSource(Protocol):
    """What a preview needs: a growing number of rows and random access to each."""

    path: str

    @property
    def done(self) -> bool: ...

    def __len__(self) -> int: ...

    def line_of(self, row: int) -> int: ...

    def row_of(self, line: int) -> int | None: ...

    def row(self, row: int, *, max_bytes: int | None = None) -> Row: ...

    def close(self) -> None: ...


def _parse(data: bytes, line: int, size: int, truncated: bool) -> Row:
    import orjson

    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data.endswith(b"\r"):
        data = data[:-1]
    raw = data.decode("utf-8", errors="replace")
    if not data.strip():
        return Row(line=line, value=None, raw=raw, size=size)
    if truncated:
        return Row(
            line=line,
            value=None,
            raw=raw,
            size=size,
            truncated=True,
            error=f"line of {size:,} bytes: only the first {len(data):,} are shown",
        )
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return Row(line=line, value=None, raw=raw, size=size, error=f"invalid JSON: {exc}")
    return Row(line=line, value=value, raw=raw, size=size)


class LineIndex:
    """Byte offsets of the lines of a file, scanned progressively.

    ``scan()`` runs in a worker thread; ``len()``, ``row()`` and ``read_line()`` may be
    called from another thread meanwhile (the offsets only grow; a line is readable once its
    end has been seen, the last line once the scan is done).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        self.size = os.fstat(self._fd).st_size
        self._starts = array("Q", [0])  # start offset of every line seen so far
        self._lines = 0  # complete lines (their end is known)
        self._done = False
        self._unterminated = False
        self._scanned = 0
        self._lock = threading.Lock()

    # -- scanning ---------------------------------------------------------------------
    def scan(
        self,
        *,
        progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
        chunk_size: int = CHUNK_SIZE,
    ) -> bool:
        """Index the whole file; True when finished, False when ``should_stop`` said so.

        The first ``FIRST_CHUNK`` bytes are indexed (and reported) before anything else,
        so a preview can show the top of the file within milliseconds.
        """
        np: Any = None
        pos = self._scanned
        first = True
        while pos < self.size:
            if should_stop is not None and should_stop():
                return False
            chunk = os.pread(self._fd, FIRST_CHUNK if first else chunk_size, pos)
            if not chunk:
                break
            if np is None and not first:
                try:
                    import numpy as np
                except ImportError:  # pragma: no cover - numpy comes with pandas
                    np = False
            if np:
                nl = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10)
                new = array("Q")
                new.frombytes((nl + (pos + 1)).astype(np.uint64).tobytes())
            else:
                new = array("Q")
                find = chunk.find
                i = find(b"\n")
                while i >= 0:
                    new.append(pos + i + 1)
                    i = find(b"\n", i + 1)
            first = False
            with self._lock:
                self._starts.extend(new)
                self._lines = len(self._starts) - 1
            pos += len(chunk)
            self._scanned = pos
            if progress is not None:
                progress(pos, self.size)
        with self._lock:
            if self._starts[-1] < self.size:  # a last line without a final newline
                self._unterminated = True
                self._starts.append(self.size)
                self._lines = len(self._starts) - 1
            self._done = True
        if progress is not None:
            progress(self.size, self.size)
        return True

    @property
    def done(self) -> bool:
        return self._done

    @property
    def bytes_scanned(self) -> int:
        return self._scanned

    # -- reading ----------------------------------------------------------------------
    def __len__(self) -> int:
        return self._lines

    def span(self, row: int) -> tuple[int, int]:
        """(start, end) byte offsets of line ``row`` (0-based), newline excluded."""
        if not 0 <= row < self._lines:
            raise IndexError(row)
        start = self._starts[row]
        end = self._starts[row + 1]
        if not (self._unterminated and row == self._lines - 1):
            end -= 1  # drop the "\n"
        return start, end

    def read_line(self, row: int, *, max_bytes: int | None = None) -> tuple[bytes, int]:
        """The bytes of line ``row`` (at most ``max_bytes``) and the line's full size."""
        start, end = self.span(row)
        size = end - start
        n = size if max_bytes is None else min(size, max_bytes)
        return os.pread(self._fd, n, start), size

    def line_of(self, row: int) -> int:
        return row + 1

    def row_of(self, line: int) -> int | None:
        row = line - 1
        return row if 0 <= row < self._lines else None

    def row(self, row: int, *, max_bytes: int | None = None) -> Row:
        data, size = self.read_line(row, max_bytes=max_bytes)
        return _parse(data, row + 1, size, truncated=len(data) < size)

    def iter_rows(self, start: int = 0, *, max_bytes: int | None = None) -> Iterator[Row]:
        for row in range(start, len(self)):
            yield self.row(row, max_bytes=max_bytes)

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __enter__(self) -> LineIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass


class RecordsSource:
    """The records of a non-line file (CSV/TSV/XLSX/JSON), loaded by ``iter_records``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._rows: list[Row] = []
        self._lines: list[int] = []
        self._done = False

    def scan(
        self, *, progress: ProgressFn | None = None, should_stop: StopFn | None = None
    ) -> bool:
        """Read every record; True when finished, False when stopped."""
        import orjson

        from fttui.datasets.read import iter_records

        total = max(1, os.path.getsize(self.path))
        for n, (line, value, finding) in enumerate(iter_records(self.path), start=1):
            if should_stop is not None and should_stop():
                return False
            is_null = value is None and finding is None and line is not None
            if (
                value is None
                and not is_null
                and (finding is None or finding.line is None or finding.severity != "error")
            ):
                continue  # about the file, not one of its examples
            line = int(line if line is not None else n)
            try:
                # a JSON null element is a row of its own (the linter's data_type points at
                # it): dropping it made a jump to that finding land on the next example
                raw = (
                    "null" if is_null else orjson.dumps(value).decode() if value is not None else ""
                )
            except TypeError:
                raw = repr(value)
            row = Row(
                line=line,
                value=value,
                raw=raw,
                size=len(raw),
                error=finding.message if (finding is not None and value is None) else None,
            )
            self._rows.append(row)
            self._lines.append(line)
            if progress is not None and n % 1000 == 0:
                progress(min(total - 1, n * 100), total)
        self._done = True
        if progress is not None:
            progress(total, total)
        return True

    @property
    def done(self) -> bool:
        return self._done

    def __len__(self) -> int:
        return len(self._rows)

    def line_of(self, row: int) -> int:
        return self._rows[row].line

    def row_of(self, line: int) -> int | None:
        i = bisect.bisect_left(self._lines, line)
        if i < len(self._lines) and self._lines[i] == line:
            return i
        return min(i, len(self._lines) - 1) if self._lines else None

    def row(self, row: int, *, max_bytes: int | None = None) -> Row:
        return self._rows[row]

    def close(self) -> None:
        pass


def open_source(path: str | os.PathLike[str]) -> LineIndex | RecordsSource:
    """A source for ``path``: a ``LineIndex`` for line-delimited files, else records.

    Raises ``OSError`` when the file cannot be opened. Nothing is scanned yet: call
    ``scan()`` (in a worker).
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext in LINE_FORMATS:
        return LineIndex(path)
    if ext == ".json" and _looks_like_jsonl(path):
        return LineIndex(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(path)
    return RecordsSource(path)


def _looks_like_jsonl(path: str) -> bool:
    """A ``.json`` file that is JSON Lines: its first line is a whole object by itself (a
    pretty-printed object or array is read whole, as the linter reads it)."""
    import orjson

    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not body.startswith(b"{"):
        return False
    first, newline, _ = body.partition(b"\n")
    if not newline:
        return True  # one long line (or a huge first example): lines it is
    try:
        return isinstance(orjson.loads(first), dict)
    except orjson.JSONDecodeError:
        return False


__all__ = [
    "DATA_EXTENSIONS",
    "DatasetSource",
    "LineIndex",
    "RecordsSource",
    "Row",
    "open_source",
]
