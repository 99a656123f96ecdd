"""`fttui` (no command) opens the app; `fttui data FILE` opens it on the Data pane with FILE.

Textual is imported only inside the functions, so ``fttui --help`` stays instant.
"""

from __future__ import annotations

import argparse
from pathlib import Path

PANE_CHOICES = ("data", "jobs", "metrics", "playground")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "data",
        help="open the app on a training file (preview, findings, stats, prepare)",
        description="Open the app on the Data pane with FILE loaded.",
    )
    p.add_argument("file", metavar="FILE", help="a training file (JSONL, CSV, XLSX, ...)")
    from fttui.cli import add_provider_options

    add_provider_options(p)
    p.add_argument(
        "--read-only",
        action="store_true",
        default=argparse.SUPPRESS,
        help="disable cancel, create and delete",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fttui.cli.common import CliError

    path = Path(args.file).expanduser()
    if not path.exists():
        raise CliError(f"no such file: {args.file}", exit_code=2)
    if path.is_dir():
        raise CliError(f"{args.file} is a folder, not a training file", exit_code=2)
    return _launch(args, data_file=str(path), initial_pane="data")


def run_app(args: argparse.Namespace) -> int:
    """Bare ``fttui``: the app on the Jobs pane."""
    return _launch(args, data_file=None, initial_pane=None)


def _launch(args: argparse.Namespace, *, data_file: str | None, initial_pane: str | None) -> int:
    import os
    import sys

    # not from apicommon: the API commands' helpers are not needed to open the app
    from fttui.cli.common import CliError, is_tty

    # Under `fttui web`, textual-serve runs the app over pipes with Textual's web driver.
    web = os.environ.get("TEXTUAL_DRIVER", "").startswith("textual.drivers.web_driver:")
    if not web and (not is_tty(sys.stdin) or not is_tty(sys.stdout)):  # also when closed
        raise CliError(
            "the app needs a terminal; use the commands (fttui --help) in scripts", exit_code=2
        )
    import gc

    # Start-up makes a great many long-lived objects (Textual, the panes, their styles) and
    # next to no garbage: the collector's passes over them were ~60 ms of CPU before the
    # first frame. The app turns it back on once every pane is mounted (FtApp._mount_rest).
    gc.disable()
    try:
        from fttui.tui.app import FtApp

        app = FtApp(
            profile=getattr(args, "profile", None),
            base_url=getattr(args, "base_url", None),
            api_key=getattr(args, "api_key", None),
            data_file=data_file,
            read_only=bool(getattr(args, "read_only", False)),
            initial_pane=initial_pane,
        )
        app.run()
    finally:
        gc.enable()
    return int(app.return_code or 0)
