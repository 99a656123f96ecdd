"""Helpers shared by the API commands (jobs, files, models, ask, profiles).

Exit codes: 0 success · 1 an error (one line on stderr) or a failed job · 2 usage ·
3 a job that ended cancelled (``--follow``/``--wait``) · 130 interrupted.
Cheap to import: the API layer and openai are imported inside the functions.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import functools
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fttui.cli.common import CliError, is_tty
from fttui.text import binary_size

EXIT_CANCELLED = 3


def add_provider_options(parser: argparse.ArgumentParser) -> None:
    from fttui.cli import add_provider_options as add

    add(parser)


def command_group(
    sub: argparse._SubParsersAction, name: str, **kwargs: Any
) -> argparse._SubParsersAction:
    """Add ``fttui NAME ACTION`` with the provider options; NAME alone prints its help, exit 2."""
    parser = sub.add_parser(name, **kwargs)
    add_provider_options(parser)
    actions = parser.add_subparsers(dest=f"{name}_command", metavar="ACTION")

    def no_action(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    parser.set_defaults(func=no_action)
    return actions


def add_endpoint_options(parser: argparse.ArgumentParser) -> None:
    """``--legacy`` / ``--chat``: which endpoint to call (``legacy`` None: the model decides)."""
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--legacy",
        dest="legacy",
        action="store_const",
        const=True,
        help="use the legacy completions endpoint",
    )
    mode.add_argument(
        "--chat", dest="legacy", action="store_const", const=False, help="use chat completions"
    )
    parser.set_defaults(legacy=None)


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable JSON output")


def warn(message: str) -> None:
    print(f"fttui: {message}", file=sys.stderr, flush=True)


def error_exit_code(kind: str) -> int:
    return 2 if kind == "config" else 1


@contextlib.contextmanager
def api_errors() -> Iterator[None]:
    """Turn ApiError / ConfigError into a CliError (one line, no traceback)."""
    from fttui.api.errors import ApiError, friendly
    from fttui.config import ConfigError

    try:
        yield
    except CliError:
        raise
    except ApiError as err:
        raise CliError(str(err), exit_code=error_exit_code(err.kind)) from None
    except ConfigError as err:
        raise CliError(str(err), exit_code=2) from None
    except KeyboardInterrupt:
        raise
    except BrokenPipeError:
        raise
    except Exception as exc:
        api_err = friendly(exc)
        raise CliError(str(api_err), exit_code=error_exit_code(api_err.kind)) from None


def handles_api_errors(
    fn: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    @functools.wraps(fn)
    def wrapper(args: argparse.Namespace) -> int:
        with api_errors():
            return fn(args)

    return wrapper


def client_from_args(args: argparse.Namespace) -> tuple[Any, Any]:
    """(Provider, openai client) from ``--profile/--base-url/--api-key`` and the env."""
    from fttui.api.providers import connect

    provider, client = connect(
        profile=getattr(args, "profile", None),
        base_url=getattr(args, "base_url", None),
        api_key=getattr(args, "api_key", None),
    )
    if provider.is_local and os.environ.get("FTTUI_QUIET_LOCAL") != "1":
        executor = provider.executor or "unknown"
        kind = "simulated training" if executor == "sim" else "real training"
        warn(f"using the local server at {provider.base_url} ({executor}: {kind})")
    return provider, client


def fmt_time(ts: Any) -> str:
    if not ts:
        return "-"
    try:
        return _dt.datetime.fromtimestamp(int(ts)).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError, OSError, OverflowError):
        return str(ts)


def fmt_num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def dump(obj: Any) -> Any:
    """SDK objects → JSON-ready values. Unset fields stay as null, so every item of a
    list has the same keys whatever the provider left out (a stable shape for scripts)."""
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if isinstance(obj, dict):
        return {k: dump(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [dump(v) for v in obj]
    return obj


def json_line(obj: Any) -> None:
    import orjson

    sys.stdout.write(orjson.dumps(dump(obj)).decode() + "\n")
    sys.stdout.flush()


def print_rows(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> None:
    """A plain aligned table."""
    cells = [[str(c) for c in header]] + [[("-" if c is None else str(c)) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for r in cells:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip())


def confirm(question: str, *, assume_yes: bool) -> bool:
    """Ask on a terminal (stdin and stderr are ttys) unless ``assume_yes``. Off a terminal
    nobody can answer, so a destructive action without ``--yes`` is refused (exit 2)
    rather than done unasked."""
    if assume_yes:
        return True
    if not (is_tty(sys.stdin) and is_tty(sys.stderr)):
        what = question.rstrip("?")
        raise CliError(
            f"not on a terminal to confirm: pass --yes to {what[:1].lower()}{what[1:]}", exit_code=2
        )
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    try:
        answer = sys.stdin.readline()
    except (EOFError, KeyboardInterrupt):
        return False
    return answer.strip().lower() in ("y", "yes")


class ProgressBar:
    """A one-line progress bar on stderr when it is a terminal; quiet otherwise."""

    def __init__(self, *, enabled: bool | None = None, width: int = 30) -> None:
        self.enabled = is_tty(sys.stderr) if enabled is None else enabled
        self.width = width
        self._last = ""
        self._phase = ""

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if phase != self._phase and self._last:
            self.finish()
        self._phase = phase
        frac = (done / total) if total else 1.0
        frac = max(0.0, min(1.0, frac))
        fill = int(frac * self.width)
        bar = "█" * fill + "░" * (self.width - fill)
        extra = f" {binary_size(done)}/{binary_size(total)}" if phase == "upload" else ""
        line = f"\r{phase:<10} {bar} {frac * 100:5.1f}%{extra}"
        if line != self._last:
            sys.stderr.write(line)
            sys.stderr.flush()
            self._last = line

    def finish(self) -> None:
        if self.enabled and self._last:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self._last = ""


def parse_metadata(items: Sequence[str] | None) -> dict[str, str] | None:
    if not items:
        return None
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise CliError(f"--metadata takes KEY=VALUE, got {item!r}", exit_code=2)
        k, v = item.split("=", 1)
        out[k.strip()] = v
    from fttui.api.metadata import MetadataError, check_metadata

    try:  # OpenAI's limits, before any upload (the app's metadata field checks the same)
        check_metadata(out)
    except MetadataError as exc:
        raise CliError(f"--metadata: {exc}", exit_code=2) from None
    return out


def job_exit_code(status: str | None) -> int:
    if status == "succeeded":
        return 0
    if status == "cancelled":
        return EXIT_CANCELLED
    return 1


def follow_events(
    client: Any, job_id: str, *, as_json: bool, interval: float = 1.0, skip_existing: bool = False
) -> int:
    """Print a job's events in order until it ends; the exit code says how it ended."""
    from fttui.api.events import EventFollower, event_line

    follower = EventFollower(client, job_id)
    if skip_existing:
        follower.poll(limit=0)

    def on_error(err: Any, delay: float) -> None:
        warn(f"{err} — retrying in {delay:.1f}s")

    for ev in follower.follow(interval=interval, on_error=on_error):
        if as_json:
            json_line(ev)
        else:
            print(event_line(ev), flush=True)
    status = getattr(follower, "final_status", None)
    if not as_json:
        warn(f"job {job_id} {status}")
    return job_exit_code(status)
