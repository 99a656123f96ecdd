"""The ``fttui`` command line.

Each subcommand lives in its own module in this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a callable taking the
parsed ``argparse.Namespace`` and returning an exit code. Modules here must stay cheap to
import (argparse only): heavy imports (pandas, openai, torch, textual) go inside the
functions that need them, so ``fttui --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any, NoReturn

from fttui import __version__
from fttui.cli.common import CliError

#: Subcommand modules, in the order ``fttui --help`` lists them.
COMMAND_MODULES = (
    "lint",
    "prepare",
    "data",
    "jobs",
    "files",
    "models",
    "ask",
    "eval",
    "profiles",
    "serve",
    "web",
)


def add_provider_options(parser: argparse.ArgumentParser) -> None:
    """Options that choose the provider; accepted globally and by every API subcommand."""
    group = parser.add_argument_group("provider")
    group.add_argument("--profile", default=argparse.SUPPRESS, help="profile from config.toml")
    group.add_argument("--base-url", default=argparse.SUPPRESS, help="OpenAI-compatible base URL")
    group.add_argument(
        "--api-key", default=argparse.SUPPRESS, help="API key (prefer the environment)"
    )


class _Parser(argparse.ArgumentParser):
    """argparse with a usage error on one line (``fttui jobs list: error: ... (see
    --help)``, exit 2) instead of the usage block, like every other fttui error."""

    def __init__(self, *args: Any, usage_exit: int = 2, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: the exit status of a usage error: 2, except where 2 means an outcome
        #: (``jobs wait``: 2 is a cancelled job, a usage error 64, EX_USAGE)
        self.usage_exit = usage_exit

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        ns, extras = super().parse_known_args(args, namespace)
        if extras and self.usage_exit != 2:
            # a subcommand's unknown option is otherwise reported by the top parser,
            # with its exit status (2)
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return ns, extras

    def error(self, message: str) -> NoReturn:
        self.exit(self.usage_exit, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(commands: bool = True) -> argparse.ArgumentParser:
    """The full argument parser, with every subcommand registered (``commands=False``:
    only the global options, enough to open the app)."""
    parser = _Parser(
        prog="fttui",
        description=(
            "Fine-tune language models from your terminal. With no command, opens the app "
            "(on the local backend when no API key is set)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"fttui {__version__}")
    parser.add_argument(
        "--read-only", action="store_true", help="app: disable cancel, create and delete"
    )
    add_provider_options(parser)
    if not commands:
        parser.set_defaults(command=None)
        return parser
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"fttui.cli.{name}").register(sub)
    return parser


#: The global options (see build_parser) that take a value, and those that take none.
_VALUE_OPTIONS = frozenset({"--profile", "--base-url", "--api-key"})
_FLAG_OPTIONS = frozenset({"--read-only"})


def opens_the_app(argv: list[str]) -> bool:
    """Whether ``argv`` holds only the global options, spelled out in full (bare ``fttui``
    and the like): the app opens, and no subcommand is needed to parse them."""
    tokens = iter(argv)
    for token in tokens:
        name, eq, _value = token.partition("=")
        if token in _FLAG_OPTIONS:
            continue
        if name in _VALUE_OPTIONS:
            if not eq and next(tokens, None) is None:
                return False  # the full parser says what is missing
            continue
        return False  # a command, --help, --version, an abbreviation, a typo
    return True


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``fttui`` console script. Returns the process exit code."""
    _tolerant_output()
    # Opening the app needs none of the subcommands: importing their nine modules and
    # building their parsers was ~50 ms of CPU before the app's first frame (the modules
    # are compiled afresh where no bytecode is written); anything else gets them all.
    parser = build_parser(commands=not opens_the_app(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            from fttui.cli.data import run_app

            return run_app(args)
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"fttui: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("fttui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug of ours: one line, never a traceback (FTTUI_DEBUG=1 shows it)
        import os

        if os.environ.get("FTTUI_DEBUG"):
            raise
        print(
            f"fttui: unexpected error: {type(exc).__name__}: {exc} "
            "(run again with FTTUI_DEBUG=1 for the details, and please report it)",
            file=sys.stderr,
        )
        return 1


def _tolerant_output() -> None:
    """A terminal or pipe whose encoding cannot show a character (an ASCII or Latin-1 locale,
    ``PYTHONIOENCODING=ascii``) gets an escape for it, not a UnicodeEncodeError half-way
    through a report (after ``prepare`` wrote its file, before it said what it wrote)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass
