"""``prepare_file``: turn CSV / TSV / XLSX / JSON / JSONL / TXT into a clean training JSONL.

Two streaming passes over the input: the first learns what the data needs (format, common
separator and stop sequence, duplicates, empty completions, how many examples survive), the
second writes. For prompt/completion data it applies the legacy ``prepare_data``
remediations: a common separator appended to every prompt, a leading space on every
completion, a common stop sequence appended to every completion, duplicates and empty
completions dropped. Every change it makes is described in ``PrepareResult.changes``.

Outputs are written to a temporary file beside the target and renamed into place only when
complete, so a failure never leaves a half-written file; the input is never overwritten.
"""

from __future__ import annotations

import contextlib
import os
import random
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from hashlib import blake2b
from pathlib import Path
from typing import Any

import orjson

from fttui.datasets.detect import detect_format
from fttui.datasets.legacy import PromptCompletionStats, show
from fttui.datasets.markers import markers_of
from fttui.datasets.read import Source


class PrepareError(ValueError):
    """The preparation cannot be done (it would overwrite its input, nothing to write, ...)."""


@dataclass
class PrepareResult:
    """What ``prepare_file`` did."""

    changes: list[str] = field(default_factory=list)  #: one human line per change made
    stop: str | None = None  #: the stop sequence to pass at inference (prompt/completion data)
    separator: str | None = None  #: the separator every prompt ends with (prompt/completion)
    outputs: list[str] = field(default_factory=list)  #: files written (training first)
    examples_written: int = 0
    format: str = "unknown"  #: the format written: chat, preference or prompt_completion
    examples_read: int = 0
    validation_examples: int = 0  #: of ``examples_written``, how many went to validation
    #: errors ``lint`` still finds in the written files, counted by code (empty: clean)
    error_counts: dict[str, int] = field(default_factory=dict)
    #: the first of those errors, one line each (``file:line: code: message``)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "changes": self.changes,
            "stop": self.stop,
            "separator": self.separator,
            "outputs": self.outputs,
            "examples_written": self.examples_written,
            "format": self.format,
            "examples_read": self.examples_read,
            "validation_examples": self.validation_examples,
            "error_counts": self.error_counts,
            "errors": self.errors,
        }


def _lines_text(lines: list[int], limit: int = 5) -> str:
    shown = ", ".join(str(n) for n in lines[:limit])
    more = f" and {len(lines) - limit} more" if len(lines) > limit else ""
    return f"line{'s' if len(lines) > 1 else ''} {shown}{more}"


#: why an example orjson cannot write is skipped (it reads up to 1024 levels, writes 255)
TOO_DEEP = "nested too deeply to write as JSON (over 255 levels)"


def _encode(value: Any) -> bytes | None:
    """``value`` as canonical JSON (sorted keys); None when it is too deep to write."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return None


def _digest(blob: bytes) -> int:
    return int.from_bytes(blake2b(blob, digest_size=8).digest(), "little")


def _output_paths(dst: Path, split: float | None) -> list[Path]:
    if not split:
        return [dst]
    suffix = dst.suffix or ".jsonl"
    return [dst.with_name(f"{dst.stem}_train{suffix}"), dst.with_name(f"{dst.stem}_valid{suffix}")]


def _new_file_mode(path: Path) -> int:
    """The permission bits for ``path``: those of the file it replaces, else 0666 & ~umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        pass
    umask = 0o022
    try:  # read the umask without os.umask(), which would change it for every thread
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    umask = int(line.split()[1], 8)
                    break
    except (OSError, ValueError, IndexError):
        pass
    return 0o666 & ~umask


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


class _Normalizer:
    """Pass-1 bookkeeping and the per-record normalisation shared by both passes."""

    def __init__(self, remediate: bool = True) -> None:
        self.remediate = remediate
        self.arguments_fixed = 0  #: tool / function calls whose object `arguments` became JSON text
        self.skipped: dict[str, list[int]] = {}
        self.formats: dict[str, int] = {}
        self.renamed_preference = 0
        self.dropped_columns: set[str] = set()
        self.coerced = 0

    def normalize(self, line: int, value: Any, *, count: bool) -> tuple[str, dict[str, Any]] | None:
        if not isinstance(value, dict):
            if count:
                self.skipped.setdefault("not a JSON object", []).append(line)
            return None
        fmt = detect_format(value)
        if fmt == "unknown":
            if count:
                self.skipped.setdefault(
                    "not a chat, preference or prompt/completion example", []
                ).append(line)
            return None
        if fmt == "chat" and self.remediate:
            fixed = _fix_arguments(value.get("messages"))
            if fixed and count:
                self.arguments_fixed += fixed
        if fmt == "preference":
            out = dict(value)
            renamed = False
            for old, new in (
                ("preferred_completion", "preferred_output"),
                ("non_preferred_completion", "non_preferred_output"),
            ):
                if old in out and new not in out:
                    out[new] = out.pop(old)
                    renamed = True
            if renamed and count:
                self.renamed_preference += 1
            value = out
        elif fmt == "prompt_completion":
            prompt, completion = value.get("prompt"), value.get("completion")
            if prompt is None and completion is None:
                if count:  # say why the example is not written
                    self.skipped.setdefault("prompt and completion are null", []).append(line)
                return None
            extra = [k for k in value if k not in ("prompt", "completion")]
            if extra and count:
                self.dropped_columns.update(map(str, extra))
            if not isinstance(prompt, str) or not isinstance(completion, str):
                texts = [_as_text(prompt), _as_text(completion)]
                if None in texts:
                    if count:
                        self.skipped.setdefault(TOO_DEEP, []).append(line)
                    return None
                if count and not (
                    isinstance(prompt, str | None) and isinstance(completion, str | None)
                ):
                    self.coerced += 1
                prompt, completion = texts
            value = {"prompt": prompt, "completion": completion}
        if count:
            self.formats[fmt] = self.formats.get(fmt, 0) + 1
        return fmt, value


def _fix_arguments(messages: Any) -> int:
    """Turn every tool / function call whose ``arguments`` is a JSON object (or array) into
    its compact JSON string, in place, as the API requires; returns how many it changed."""
    if not isinstance(messages, list):
        return 0
    fixed = 0
    for msg in messages:
        if not isinstance(msg, dict):
            continue
        fns = []
        calls = msg.get("tool_calls")
        if isinstance(calls, list):
            fns += [c.get("function") for c in calls if isinstance(c, dict)]
        fns.append(msg.get("function_call"))
        for fn in fns:
            if isinstance(fn, dict) and isinstance(fn.get("arguments"), dict | list):
                try:
                    fn["arguments"] = orjson.dumps(fn["arguments"]).decode()
                except orjson.JSONEncodeError:  # too deep: lint reports it as it is
                    continue
                fixed += 1
    return fixed


def _as_text(value: Any) -> str | None:
    """A prompt/completion value as text: JSON for non-strings, None when too deep."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return None


def _records(src: Source) -> Iterator[tuple[int, Any, Any]]:
    for line, value, finding in src.records():
        yield (line or 0), value, finding


def prepare_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    split: float | None = None,
    seed: int = 42,
    to_chat: bool = False,
    remediate: bool = True,
    check: bool = True,
) -> PrepareResult:
    """Convert ``src`` to JSONL at ``dst`` (see the module docstring).

    ``split`` (0–1) moves that share of the examples, chosen with ``seed``, to a validation
    file: the outputs are then ``<dst stem>_train.jsonl`` and ``<dst stem>_valid.jsonl``.
    ``to_chat`` turns prompt/completion examples into chat messages. ``remediate=False``
    converts without changing the data. ``check`` lints the written files and puts the
    errors that remain in ``error_counts`` / ``errors`` (the files are written either way).

    Raises :class:`PrepareError` for a request it cannot do and
    :class:`fttui.datasets.read.DatasetReadError` when the input cannot be read.
    """
    src_path = Path(src)
    dst_path = Path(dst)
    if split is not None and not 0 <= split < 1:
        raise PrepareError(f"--split must be between 0 and 1 (got {split})")
    outputs = _output_paths(dst_path, split)
    for out in outputs:
        if _same_file(out, src_path):
            raise PrepareError(f"refusing to overwrite the input file {src_path}")
        if out.is_dir():
            raise PrepareError(f"{out} is a folder")
        if not out.parent.is_dir():
            raise PrepareError(f"{out.parent}: no such folder")

    source = Source(src_path)
    result = PrepareResult()
    norm = _Normalizer(remediate)
    legacy = PromptCompletionStats()
    reading: dict[str, list[int]] = {}
    seen: set[int] = set()
    duplicates: list[int] = []
    empty: list[int] = []
    kept = 0
    first_problem: str | None = None  #: why a file with no examples has none

    # -- pass 1: learn
    for line, value, finding in _records(source):
        if finding is not None:
            reading.setdefault(finding.code, []).append(line)
            if first_problem is None and finding.severity == "error":
                first_problem = finding.message
            continue
        result.examples_read += 1
        got = norm.normalize(line, value, count=True)
        if got is None:
            continue
        fmt, rec = got
        if remediate and fmt == "prompt_completion" and not rec["completion"].strip():
            empty.append(line)
            continue
        blob = _encode(rec)
        if blob is None:  # orjson cannot write it: skip it rather than fail in pass 2
            norm.skipped.setdefault(TOO_DEEP, []).append(line)
            continue
        if remediate:
            digest = _digest(blob)
            if digest in seen:
                duplicates.append(line)
                continue
            seen.add(digest)
        if fmt == "prompt_completion":
            legacy.add(line, rec["prompt"], rec["completion"])
        kept += 1
    seen.clear()

    if not norm.formats or not kept:  # nothing readable, or every example dropped
        if first_problem is None and norm.skipped:
            reason, lines = next(iter(norm.skipped.items()))
            first_problem = f"{_lines_text(lines)}: {reason}"
        elif first_problem is None and empty:
            first_problem = f"{_lines_text(empty)}: empty completion"
        why = f" ({first_problem})" if first_problem else ""
        raise PrepareError(f"{src_path}: no examples to write{why}")
    main_format = max(norm.formats, key=lambda k: norm.formats[k])
    if len(norm.formats) > 1:
        counts = ", ".join(f"{n} {f.replace('_', '/')}" for f, n in norm.formats.items())
        result.changes.append(
            f"warning: the file mixes formats ({counts}); they are written as they are"
        )

    # -- an existing common ending is the separator / stop only when it occurs nowhere else
    # inside a prompt / completion: '.' that also ends inner sentences would stop generation
    # after the first one (the legacy tool's trap)
    if main_format == "prompt_completion" and legacy.n and legacy.needs_second_pass():
        for line, value, finding in _records(Source(src_path, kind=source.kind)):
            if finding is not None:
                continue
            got = norm.normalize(line, value, count=False)
            if got is not None and got[0] == "prompt_completion":
                legacy.check_repeats(0, line, got[1]["prompt"], got[1]["completion"])

    # -- decide
    pc = main_format == "prompt_completion"
    separator = stop = None
    add_space = False
    strip_sep = strip_stop = None
    if pc and legacy.n:
        kept_markers = markers_of(legacy)  # the same decision the playground's detection makes
        has_sep = kept_markers.separator is not None
        has_stop = kept_markers.stop is not None
        if to_chat:
            strip_sep = legacy.separator if has_sep else None
            strip_stop = legacy.stop if has_stop else None
        elif remediate:
            if legacy.all_prompts_empty:
                separator = None
            elif has_sep:
                separator = legacy.separator
                result.changes.append(
                    f"every prompt already ends with the separator {show(separator)}"
                )
            else:
                separator = legacy.suggest_separator()
                why = ""
                if legacy.separator and legacy.separator_repeated:
                    n = len(legacy.separator_repeated)
                    why = (
                        f"{show(legacy.separator)} also occurs inside {n} prompt"
                        f"{'s' if n != 1 else ''}, so "
                    )
                result.changes.append(
                    f"{why}{show(separator)} was appended to every prompt (it occurs in none of them)"
                    if why
                    else f"appended the separator {show(separator)} to every prompt "
                    "(it occurs in none of them)"
                )
            if legacy.no_space_count:
                add_space = True
                result.changes.append(
                    f"added a leading space to {legacy.no_space_count} completion"
                    f"{'s' if legacy.no_space_count != 1 else ''}"
                )
            if has_stop:
                stop = legacy.stop
                result.changes.append(
                    f"every completion already ends with the stop sequence {show(stop)}"
                )
            else:
                stop = legacy.suggest_stop()
                why = ""
                if legacy.stop and legacy.stop_repeated:
                    n = len(legacy.stop_repeated)
                    why = (
                        f"{show(legacy.stop)} also occurs inside {n} completion"
                        f"{'s' if n != 1 else ''}, so "
                    )
                elif legacy.content_ending:
                    why = (
                        f"the common ending {show(legacy.content_ending)} is text, not a stop "
                        "sequence, so "
                    )
                result.changes.append(
                    f"{why}{show(stop)} was appended to every completion (it occurs in none of them)"
                    if why
                    else f"appended the stop sequence {show(stop)} to every completion "
                    "(it occurs in none of them)"
                )
        else:
            separator = legacy.separator if has_sep else None
            stop = legacy.stop if has_stop else None

    if empty:
        result.changes.append(
            f"dropped {len(empty)} example(s) with an empty completion ({_lines_text(empty)})"
        )
    if duplicates:
        result.changes.append(
            f"dropped {len(duplicates)} duplicate example(s) ({_lines_text(duplicates)})"
        )
    for code, lines in reading.items():
        if code in ("needs_conversion", "file_too_large"):
            continue
        if code == "bom":
            result.changes.append("removed the UTF-8 byte-order mark")
        elif code == "crlf_line_endings":
            result.changes.append("rewrote Windows (CRLF) line endings as \\n")
        elif code == "missing_final_newline":
            result.changes.append("ended the file with a newline")
        elif code == "multiple_sheets":
            result.changes.append("read only the workbook's first sheet")
        elif code == "blank_line":
            result.changes.append(f"dropped {len(lines)} blank line(s)")
        else:
            result.changes.append(
                f"skipped {len(lines)} unreadable line(s): {code} ({_lines_text(lines)})"
            )
    for reason, lines in norm.skipped.items():
        result.changes.append(f"skipped {len(lines)} line(s): {reason} ({_lines_text(lines)})")
    if norm.renamed_preference:
        result.changes.append(
            f"renamed preferred_completion / non_preferred_completion to *_output in "
            f"{norm.renamed_preference} example(s)"
        )
    if norm.dropped_columns:
        result.changes.append(
            f"dropped the extra field(s) {', '.join(sorted(norm.dropped_columns))}"
        )
    if norm.arguments_fixed:
        result.changes.append(
            f"wrote {norm.arguments_fixed} tool call `arguments` object(s) as JSON strings"
        )
    if norm.coerced:
        result.changes.append(
            f"wrote {norm.coerced} non-text prompt/completion value(s) as JSON text"
        )
    if source.kind != "jsonl":
        result.changes.append(f"converted {source.kind.upper()} to JSONL")
    if to_chat and pc:
        result.changes.append(f"converted {legacy.n} prompt/completion example(s) to chat messages")
        if strip_sep:
            result.changes.append(f"removed the separator {show(strip_sep)} from the prompts")
        if strip_stop:
            result.changes.append(
                f"removed the stop sequence {show(strip_stop)} from the completions"
            )

    valid_idx: set[int] = set()
    if split:
        if kept < 2:
            raise PrepareError(
                f"{src_path}: --split needs at least 2 examples to split; there "
                f"{'is' if kept == 1 else 'are'} {kept}"
            )
        k = min(max(round(kept * split), 1), kept - 1)
        valid_idx = set(random.Random(seed).sample(range(kept), k))
        result.changes.append(f"split off {k} of {kept} examples (seed {seed}) as validation data")

    # -- pass 2: write
    temps: list[tuple[Any, Path]] = []
    try:
        for out in outputs:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
            # mkstemp makes the file 0600; give it the mode a plain new file would get
            try:
                os.fchmod(fd, _new_file_mode(out))
            except OSError:
                pass
            temps.append((os.fdopen(fd, "wb", buffering=1 << 20), Path(tmp_name)))
        train_f = temps[0][0]
        valid_f = temps[1][0] if len(temps) > 1 else train_f
        index = 0
        written = valid_written = 0
        dumps = orjson.dumps
        for line, value, finding in _records(Source(src_path, kind=source.kind)):
            if finding is not None:
                continue
            got = norm.normalize(line, value, count=False)
            if got is None:
                continue
            fmt, rec = got
            if remediate and fmt == "prompt_completion" and not rec["completion"].strip():
                continue
            blob = _encode(rec)
            if blob is None:  # skipped in pass 1
                continue
            if remediate:
                digest = _digest(blob)
                if digest in seen:
                    continue
                seen.add(digest)
            if fmt == "prompt_completion":
                rec = _fix_pc(rec, separator, stop, add_space, to_chat, strip_sep, strip_stop)
            target = valid_f if index in valid_idx else train_f
            if index in valid_idx:
                valid_written += 1
            target.write(dumps(rec) + b"\n")
            index += 1
            written += 1
        for f, _tmp in temps:
            f.flush()
            os.fsync(f.fileno())
            f.close()
        _commit([tmp for _f, tmp in temps], outputs)
        temps = []
    finally:
        for f, tmp in temps:
            try:
                f.close()
            except OSError:
                pass
            try:
                tmp.unlink()
            except OSError:
                pass

    result.outputs = [str(p) for p in outputs]
    result.examples_written = written
    result.validation_examples = valid_written
    result.format = "chat" if (to_chat and pc) else main_format
    result.separator = separator
    result.stop = stop
    if check:
        _check_outputs(result)
    return result


def _check_outputs(result: PrepareResult, shown: int = 5) -> None:
    """Lint what was written: what prepare cannot fix (a chat example with no assistant
    message, a tool answer to no call) must not pass for a clean file."""
    from fttui.datasets.findings import CHECKS
    from fttui.datasets.lint import lint_path
    from fttui.datasets.model_limits import DEFAULT_MODEL

    # a prompt/completion file is linted for a model that trains on it
    model = "davinci-002" if result.format == "prompt_completion" else DEFAULT_MODEL
    for out in result.outputs:
        report = lint_path(out, model=model)
        for code, n in report.finding_counts.items():
            if n and code in CHECKS and CHECKS[code].severity == "error":
                result.error_counts[code] = result.error_counts.get(code, 0) + n
        for f in report.errors:
            if len(result.errors) < shown:
                where = f"line {f.line}: " if f.line and f"line {f.line}" not in f.message else ""
                result.errors.append(f"{out}: {f.code}: {where}{f.message}")
    if result.error_counts:
        total = sum(result.error_counts.values())
        counts = ", ".join(f"{c} ×{n}" for c, n in result.error_counts.items())
        result.changes.append(
            f"warning: the output still has {total} error{'s' if total != 1 else ''} "
            f"prepare cannot fix ({counts}); `fttui lint` on it lists them"
        )


def _commit(temps: list[Path], outputs: list[Path]) -> None:
    """Move each finished temp file over its output: all of them, or (on a failure part way,
    e.g. the second of a --split pair) none — the outputs replaced so far are put back, so a
    train file never sits beside a validation file from another run."""
    done: list[tuple[Path, Path | None]] = []  # (output, the old file kept aside, if any)
    backup: Path | None = None
    try:
        for tmp, out in zip(temps, outputs, strict=True):
            backup = None
            if len(outputs) > 1 and out.exists():
                backup = out.with_name(f".{out.name}.{os.getpid()}.old")
                try:
                    os.link(out, backup)  # a second name for the old file, no copy
                except OSError:
                    backup = None  # a filesystem without hard links: no rollback for it
            os.replace(tmp, out)
            done.append((out, backup))
            backup = None
    except BaseException:
        if backup is not None:  # kept aside for the output that failed: it is unchanged
            with contextlib.suppress(OSError):
                backup.unlink()
        for out, backup in reversed(done):
            with contextlib.suppress(OSError):
                if backup is not None:
                    os.replace(backup, out)
                else:
                    out.unlink()
        raise
    finally:
        for _out, backup in done:
            if backup is not None:
                with contextlib.suppress(OSError):
                    backup.unlink()


def _fix_pc(
    rec: dict[str, str],
    separator: str | None,
    stop: str | None,
    add_space: bool,
    to_chat: bool,
    strip_sep: str | None,
    strip_stop: str | None,
) -> dict[str, Any]:
    prompt, completion = rec["prompt"], rec["completion"]
    if to_chat:
        if strip_sep and prompt.endswith(strip_sep):
            prompt = prompt[: len(prompt) - len(strip_sep)]
        if strip_stop and completion.endswith(strip_stop):
            completion = completion[: len(completion) - len(strip_stop)]
        messages = []
        if prompt.strip():
            messages.append({"role": "user", "content": prompt.strip()})
        messages.append({"role": "assistant", "content": completion.strip()})
        return {"messages": messages}
    if separator and not prompt.endswith(separator):
        prompt += separator
    if add_space and completion and not completion[0].isspace():
        completion = " " + completion
    if stop and not completion.endswith(stop):
        completion += stop
    return {"prompt": prompt, "completion": completion}


__all__ = ["PrepareError", "PrepareResult", "prepare_file"]
