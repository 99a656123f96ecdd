"""Reading training files: JSONL (streamed), JSON arrays, CSV / TSV (pandas), XLSX (openpyxl), TXT.

Everything here streams, so a 1 GB file reads in constant memory, and turns bad content
into findings instead of exceptions: a BOM, CRLF endings, blank lines, invalid UTF-8, a
20 MB line, a missing final newline, broken JSON, a broken table. Only a file that cannot
be opened or read at all raises :class:`DatasetReadError`.

``iter_records(path)`` yields ``(line, value, finding)``: ``value`` is the parsed example
(``finding`` None), or None with a ``finding`` saying why there is no example on that line
(or about the whole file: then ``line`` is 0). Lines are 1-based: real lines for JSONL,
table rows counting the header as row 1 for CSV / TSV / XLSX, element positions for a JSON
array (the line where the element starts when that can be worked out).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from fttui.datasets.findings import Finding, make_finding

Record = tuple[int, Any, Finding | None]
# Inside Source a finding about the whole file has no line yet; records() makes it 0.
_LineRecord = tuple[int | None, Any, Finding | None]
RawLine = tuple[int, bytes | None, Finding | None]

BLOCK_SIZE = 1 << 20
LONG_LINE_BYTES = 10 * 1024 * 1024  #: a line longer than this is the ``line_too_long`` warning
MAX_LINE_BYTES = 128 * 1024 * 1024  #: longer lines are skipped (``line_too_large``)
MAX_FILE_BYTES = 512 * 1024 * 1024  #: the Files API limit (``file_too_large``)

#: Table columns whose cells hold JSON (a ``messages`` column holding a JSON list, ...).
JSON_COLUMNS = frozenset(
    {
        "messages",
        "tools",
        "functions",
        "input",
        "preferred_output",
        "non_preferred_output",
        "preferred_completion",
        "non_preferred_completion",
        "parallel_tool_calls",
    }
)
#: Column names matched case-insensitively and with surrounding spaces ignored.
KNOWN_COLUMNS = JSON_COLUMNS | {"prompt", "completion"}

KINDS = ("jsonl", "json", "csv", "tsv", "xlsx", "txt")
_EXT_KIND = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".jsonlines": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".txt": "txt",
}


class DatasetReadError(OSError):
    """The file cannot be opened or read at all (missing, a folder, no permission, ...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _open(path: Path) -> BinaryIO:
    try:
        if path.is_dir():
            raise DatasetReadError(f"{path}: is a folder, not a file")
        return open(path, "rb")
    except DatasetReadError:
        raise
    except FileNotFoundError:
        raise DatasetReadError(f"{path}: no such file") from None
    except PermissionError:
        raise DatasetReadError(f"{path}: permission denied") from None
    except OSError as exc:
        raise DatasetReadError(f"{path}: cannot open ({exc.strerror or exc})") from None


def detect_kind(path: str | os.PathLike[str], head: bytes | None = None) -> str:
    """``jsonl``, ``json``, ``csv``, ``tsv``, ``xlsx`` or ``txt``: by extension, else by content."""
    path = Path(path)
    kind = _EXT_KIND.get(path.suffix.lower())
    if kind:
        return kind
    if head is None:
        try:
            with open(path, "rb") as f:
                head = f.read(4096)
        except OSError:
            head = b""
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"["):
        return "json"
    return "jsonl"


# -- parsing one JSON line ---------------------------------------------------------------

_ORJSON_POS = re.compile(r":\s*line \d+ column \d+ \(char \d+\)\s*$")


def parse_line(line: int, raw: bytes | str) -> tuple[Any, Finding | None]:
    """Parse one JSONL line: ``(value, None)`` or ``(None, invalid_json / invalid_encoding)``."""
    import orjson

    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError as exc:
        return None, json_error_finding(line, raw, exc)


def json_error_finding(line: int, raw: bytes | str, exc: Exception) -> Finding:
    """The finding for a JSON parse error on ``line`` (column 1-based, in characters)."""
    if isinstance(raw, bytes):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as uexc:
            column = len(raw[: uexc.start].decode("utf-8", "replace")) + 1
            return make_finding(
                "invalid_encoding",
                line,
                f"line {line}: byte 0x{raw[uexc.start]:02x} at column {column} is not valid UTF-8",
                column=column,
            )
    reason = _ORJSON_POS.sub("", str(exc)) or "invalid JSON"
    colno: int | None = getattr(exc, "colno", None)
    lineno = getattr(exc, "lineno", 1) or 1
    where = f"column {colno}" if lineno == 1 else f"line {lineno} column {colno} of the value"
    return make_finding(
        "invalid_json", line, f"line {line}: invalid JSON at {where}: {reason}", column=colno
    )


# -- the source ------------------------------------------------------------------------


class Source:
    """One training file being read, with progress reporting and cooperative stopping.

    ``progress(bytes_done, bytes_total)`` is called as the file is read (about every MiB);
    ``should_stop()`` is polled as often, and when it returns True reading ends early and
    ``stopped`` becomes True.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        kind: str | None = None,
        progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.path = Path(path)
        self.progress = progress
        self.should_stop = should_stop
        self.stopped = False
        f = _open(self.path)
        try:
            self.size = os.fstat(f.fileno()).st_size
            head = f.read(4096)
        except OSError as exc:
            f.close()
            raise DatasetReadError(f"{self.path}: cannot read ({exc.strerror or exc})") from None
        f.close()
        self.kind = kind or detect_kind(self.path, head)

    # helpers
    def _tick(self, done: int) -> bool:
        """Report progress; True when the caller asked to stop."""
        if self.progress is not None:
            try:
                self.progress(min(done, self.size), self.size)
            except Exception:
                pass
        if self.should_stop is not None:
            try:
                if self.should_stop():
                    self.stopped = True
                    return True
            except Exception:
                pass
        return False

    def file_findings(self) -> list[Finding]:
        found = []
        if self.size > MAX_FILE_BYTES:
            found.append(
                make_finding(
                    "file_too_large",
                    None,
                    f"the file is {self.size / 2**20:,.0f} MB, over the Files API's 512 MB",
                )
            )
        if self.kind in ("csv", "tsv", "xlsx", "txt"):
            found.append(
                make_finding(
                    "needs_conversion",
                    None,
                    f"a {self.kind.upper()} file: fine-tuning APIs take JSONL",
                )
            )
        return found

    # -- JSONL: raw lines --------------------------------------------------------------

    def raw_lines(self) -> Iterator[RawLine]:
        """JSONL lines as bytes (no newline, no CR, BOM removed), with reading findings.

        Yields ``(line, raw, None)`` for each non-blank line and ``(line, None, finding)``
        for blank lines, over-long lines and file-level problems.
        """
        try:
            f = open(self.path, "rb")  # noqa: SIM115
        except OSError as exc:
            raise DatasetReadError(f"{self.path}: cannot open ({exc.strerror or exc})") from None
        with f:
            yield from self._raw_lines(f)

    def _raw_lines(self, f: BinaryIO) -> Iterator[RawLine]:
        line_no = 0
        done = 0
        pending: list[bytes] = []  # pieces of a line that spans blocks
        pending_len = 0
        skipping = False  # inside a line over MAX_LINE_BYTES
        crlf_line: int | None = None
        first = True
        read = f.read
        while True:
            if self._tick(done):
                return
            try:
                block = read(BLOCK_SIZE)
            except OSError as exc:
                raise DatasetReadError(
                    f"{self.path}: read failed ({exc.strerror or exc})"
                ) from None
            if not block:
                break
            done += len(block)
            if first:
                first = False
                wide = _wide_encoding(block)
                if wide is not None:  # every line would be invalid: say why once
                    yield 1, None, wide
                    self._tick(self.size)
                    return
                if block.startswith(b"\xef\xbb\xbf"):
                    block = block[3:]
                    yield (
                        1,
                        None,
                        make_finding(
                            "bom",
                            1,
                            "the file starts with a UTF-8 byte-order mark (removed for reading)",
                        ),
                    )
            parts = block.split(b"\n")
            tail = parts.pop()
            if parts:
                if pending or skipping:
                    head = parts[0]
                    line_no += 1
                    total = pending_len + len(head)
                    if skipping:
                        yield line_no, None, _too_large(line_no, total)
                    else:
                        pending.append(head)
                        raw = b"".join(pending)
                        for item in self._line(line_no, raw):
                            yield item
                        if raw.endswith(b"\r") and crlf_line is None:
                            crlf_line = line_no
                    pending = []
                    pending_len = 0
                    skipping = False
                    parts = parts[1:]
                for raw in parts:
                    line_no += 1
                    if raw and raw[-1] == 13:  # b"\r"
                        if crlf_line is None:
                            crlf_line = line_no
                        raw = raw[:-1]
                    if raw and raw[0] not in b" \t\r" and len(raw) <= LONG_LINE_BYTES:
                        yield line_no, raw, None
                    else:
                        for item in self._line(line_no, raw):
                            yield item
            if tail:
                pending_len += len(tail)
                if skipping:
                    pass
                elif pending_len > MAX_LINE_BYTES:
                    skipping = True
                    pending = []
                else:
                    pending.append(tail)
        if pending or skipping:
            line_no += 1
            if skipping:
                yield line_no, None, _too_large(line_no, pending_len)
            else:
                raw = b"".join(pending)
                if raw.endswith(b"\r") and crlf_line is None:
                    crlf_line = line_no
                for item in self._line(line_no, raw):
                    yield item
            yield (
                line_no,
                None,
                make_finding(
                    "missing_final_newline",
                    line_no,
                    f"line {line_no}, the last, has no newline at its end",
                ),
            )
        if crlf_line is not None:
            yield (
                crlf_line,
                None,
                make_finding(
                    "crlf_line_endings",
                    crlf_line,
                    f"Windows (CRLF) line endings, from line {crlf_line}",
                ),
            )
        self._tick(done)

    def _line(self, line_no: int, raw: bytes) -> Iterator[RawLine]:
        """The slow path: CR, blank and long lines."""
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not raw.strip():
            yield line_no, None, make_finding("blank_line", line_no, f"line {line_no} is blank")
            return
        if len(raw) > LONG_LINE_BYTES:
            yield (
                line_no,
                None,
                make_finding(
                    "line_too_long",
                    line_no,
                    f"line {line_no} is {len(raw) / 2**20:.1f} MB long",
                ),
            )
        yield line_no, raw, None

    # -- all kinds: records ------------------------------------------------------------

    def records(self) -> Iterator[Record]:
        """Parsed examples of any supported kind (see the module docstring).

        The first item of each tuple is always an int: 0 for findings about the whole file
        (whose ``Finding.line`` is None).
        """
        for line, value, finding in self._records():
            yield (line or 0), value, finding

    def _records(self) -> Iterator[_LineRecord]:
        for finding in self.file_findings():
            yield finding.line, None, finding
        if self.kind == "jsonl":
            yield from self._jsonl_records()
        elif self.kind == "json":
            yield from self._json_records()
        elif self.kind in ("csv", "tsv"):
            yield from self._table_records("\t" if self.kind == "tsv" else ",")
        elif self.kind == "xlsx":
            yield from self._xlsx_records()
        elif self.kind == "txt":
            yield from self._txt_records()
        else:  # pragma: no cover - detect_kind returns one of KINDS
            raise DatasetReadError(f"{self.path}: unsupported file kind {self.kind}")

    def _jsonl_records(self) -> Iterator[Record]:
        for line, raw, finding in self.raw_lines():
            if raw is None:
                yield line, None, finding
                continue
            value, err = parse_line(line, raw)
            yield line, value, err

    def _read_all(self) -> bytes:
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise DatasetReadError(f"{self.path}: read failed ({exc.strerror or exc})") from None
        self._tick(len(data))
        return data

    def _json_records(self) -> Iterator[Record]:
        import orjson

        data = self._read_all()
        wide = _wide_encoding(data)
        if wide is not None:
            yield 1, None, wide
            return
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
            yield 1, None, make_finding("bom", 1, "the file starts with a UTF-8 byte-order mark")
        if not data.strip():
            return
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            # JSONL saved as .json? Then read it as JSONL.
            first = data.lstrip().split(b"\n", 1)[0]
            if first.lstrip().startswith(b"{"):
                try:
                    orjson.loads(first)
                except orjson.JSONDecodeError:
                    pass
                else:
                    self.kind = "jsonl"
                    for item in self._jsonl_records():
                        if item[2] is not None and item[2].code == "bom":
                            continue  # reported above already
                        yield item
                    return
            line = getattr(exc, "lineno", 1) or 1
            finding = json_error_finding(line, data, exc)
            if finding.code == "invalid_encoding":
                bad = data.decode("utf-8", "replace")
                line = bad.count("\n", 0, bad.index("\ufffd")) + 1
                finding = make_finding(
                    "invalid_encoding",
                    line,
                    f"line {line}: the file holds bytes that are not valid UTF-8",
                )
            else:  # the error's line is a line of the file: say it once
                column = getattr(exc, "colno", None)
                reason = _ORJSON_POS.sub("", str(exc)) or "invalid JSON"
                finding = make_finding(
                    "invalid_json",
                    line,
                    f"line {line}: invalid JSON at column {column}: {reason}",
                    column=column,
                )
            yield line, None, finding
            return
        if isinstance(value, list):
            starts = _array_element_lines(data, len(value))
            for i, item in enumerate(value):
                yield (starts[i] if starts else i + 1), item, None
        else:
            yield 1, value, None

    def _table_records(self, sep: str) -> Iterator[Record]:
        import warnings

        import pandas as pd

        try:
            f = open(self.path, "rb")  # noqa: SIM115
        except OSError as exc:
            raise DatasetReadError(f"{self.path}: cannot open ({exc.strerror or exc})") from None
        with f:
            head = f.read(4)
            wide = _wide_encoding(head)
            if wide is not None:
                yield 1, None, wide
                return
            if head[:3] == b"\xef\xbb\xbf":
                f.seek(3)
                yield (
                    1,
                    None,
                    make_finding("bom", 1, "the file starts with a UTF-8 byte-order mark"),
                )
            else:
                f.seek(0)
            row = 1
            try:
                reader = pd.read_csv(
                    f,
                    sep=sep,
                    dtype=str,
                    keep_default_na=False,
                    chunksize=5000,
                    encoding="utf-8",
                    skip_blank_lines=True,
                    index_col=False,
                )
                columns: list[str] | None = None
                while True:
                    with warnings.catch_warnings():
                        # a row with more fields than the header: an error, not lost data
                        warnings.simplefilter("error", pd.errors.ParserWarning)
                        chunk = next(reader, None)
                    if chunk is None:
                        break
                    if columns is None:
                        columns = [_column_name(c) for c in chunk.columns]
                    for values in chunk.itertuples(index=False, name=None):
                        row += 1
                        yield row, *_table_row(row, columns, values)
                    if self._tick(f.tell()):
                        return
            except UnicodeDecodeError as exc:
                yield (
                    row + 1,
                    None,
                    make_finding(
                        "invalid_encoding",
                        row + 1,
                        f"the table holds bytes that are not valid UTF-8 (near row {row + 1}: {exc.reason})",
                    ),
                )
            except pd.errors.EmptyDataError:
                return
            except (pd.errors.ParserError, pd.errors.ParserWarning, ValueError, csv_error()) as exc:
                message = " ".join(str(exc).split())
                yield (
                    row + 1,
                    None,
                    make_finding(
                        "invalid_table",
                        row + 1,
                        f"the table cannot be parsed after row {row}: {message}",
                    ),
                )

    def _xlsx_records(self) -> Iterator[_LineRecord]:
        try:
            import openpyxl
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise DatasetReadError(f"{self.path}: reading XLSX needs openpyxl ({exc})") from None
        try:
            wb = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except OSError as exc:
            raise DatasetReadError(f"{self.path}: cannot read ({exc.strerror or exc})") from None
        except Exception as exc:
            message = " ".join(str(exc).split()) or type(exc).__name__
            yield (
                None,
                None,
                make_finding("invalid_table", None, f"not a readable XLSX workbook: {message}"),
            )
            return
        try:
            if len(wb.sheetnames) > 1:
                yield (
                    None,
                    None,
                    make_finding(
                        "multiple_sheets",
                        None,
                        f"the workbook has {len(wb.sheetnames)} sheets; only the first "
                        f"({wb.sheetnames[0]!r}) is read",
                    ),
                )
            ws = wb.worksheets[0]
            total_rows = ws.max_row or 0
            columns: list[str] | None = None
            for row, values in enumerate(ws.iter_rows(values_only=True), start=1):
                if columns is None:
                    if not any(_cell_text(v).strip() for v in values):
                        continue  # blank rows above the header; ``row`` stays the sheet's row
                    columns = [_column_name("" if v is None else str(v)) for v in values]
                    continue
                cells = tuple(_cell_text(v) for v in values)
                if not any(cells):
                    continue
                yield row, *_table_row(row, columns, cells)
                if row % 1000 == 0 and total_rows and self._tick(self.size * row // total_rows):
                    return
        except Exception as exc:
            yield (
                None,
                None,
                make_finding(
                    "invalid_table", None, f"the workbook cannot be read to the end: {exc}"
                ),
            )
        finally:
            wb.close()
            self._tick(self.size)

    def _txt_records(self) -> Iterator[Record]:
        for line, raw, finding in self.raw_lines():
            if raw is None:
                if finding is not None and finding.code != "blank_line":
                    yield line, None, finding
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield line, None, json_error_finding(line, raw, ValueError("invalid UTF-8"))
                continue
            yield line, {"prompt": "", "completion": text}, None


def csv_error() -> type[Exception]:
    import csv

    return csv.Error


def _wide_encoding(head: bytes) -> Finding | None:
    """The finding for a UTF-16 / UTF-32 file (by its BOM), else None."""
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        name = "UTF-32"
    elif head.startswith((b"\xff\xfe", b"\xfe\xff")):
        name = "UTF-16"
    else:
        return None
    return make_finding(
        "invalid_encoding",
        1,
        f"the file is {name}; save it as UTF-8",
        hint=f"Re-save the file as UTF-8 (the editor's or Excel's encoding option); {name} cannot be read.",
    )


def _too_large(line: int, size: int) -> Finding:
    return make_finding(
        "line_too_large",
        line,
        f"line {line} is over {MAX_LINE_BYTES // 2**20} MB ({size / 2**20:,.0f} MB); skipped",
    )


def _column_name(name: object) -> str:
    text = str(name)
    key = text.strip().lower()
    return key if key in KNOWN_COLUMNS else text


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _table_row(row: int, columns: list[str], values: tuple[str, ...]) -> tuple[Any, Finding | None]:
    """One table row as an example dict, JSON columns parsed."""
    import orjson

    example: dict[str, Any] = {}
    for name, cell in zip(columns, values, strict=False):
        if name in JSON_COLUMNS and isinstance(cell, str):
            text = cell.strip()
            if not text:
                continue
            if name == "parallel_tool_calls" and text.lower() in ("true", "false"):
                example[name] = text.lower() == "true"
                continue
            try:
                example[name] = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                reason = _ORJSON_POS.sub("", str(exc))
                return None, make_finding(
                    "invalid_json",
                    row,
                    f"row {row}: the {name!r} cell is not valid JSON (column "
                    f"{getattr(exc, 'colno', '?')} of the cell): {reason}",
                    column=getattr(exc, "colno", None),
                )
        elif cell == "" and _unnamed(name):
            continue  # an empty cell under no header: padding, not data
        else:
            example[name] = cell
    return example, None


def _unnamed(name: str) -> bool:
    """A header cell left empty (pandas names it ``Unnamed: N``)."""
    return not name.strip() or _PANDAS_UNNAMED.fullmatch(name) is not None


_PANDAS_UNNAMED = re.compile(r"Unnamed: \d+(?:\.\d+)?")


# strings, brackets, commas, newlines, and the start of a number/true/false/null: a scalar
# element must count too, or an array holding one maps no element to its line
_ARRAY_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},]|\n|[-0-9tfn][^,\]}\s]*')


def _array_element_lines(data: bytes, count: int) -> list[int] | None:
    """The line each top-level element of a JSON array starts on (None when unsure)."""
    if len(data) > 64 * 1024 * 1024:
        return None
    starts: list[int] = []
    line = 1
    depth = 0
    expect = False
    for m in _ARRAY_TOKENS.finditer(data):
        tok = m.group()
        if tok == b"\n":
            line += 1
            continue
        if expect and depth == 1 and tok != b"]":
            starts.append(line)
        expect = False
        if tok in (b"[", b"{"):
            if depth == 0 and tok == b"[":
                expect = True
            depth += 1
        elif tok in (b"]", b"}"):
            depth -= 1
        elif tok == b",":
            expect = depth == 1
    return starts if len(starts) == count else None


def iter_records(
    path: str | os.PathLike[str],
    *,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[Record]:
    """Stream ``(line, value, finding)`` from a JSONL / JSON / CSV / TSV / XLSX / TXT file.

    Raises :class:`DatasetReadError` (an ``OSError``) when the file cannot be read at all.
    """
    return Source(path, progress=progress, should_stop=should_stop).records()


__all__ = ["DatasetReadError", "Source", "detect_kind", "iter_records", "parse_line"]
