"""`fttui data` — placeholder until its issue lands (see the issue list)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="(not yet built)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fttui.cli.common import CliError

    raise CliError("'fttui data' is not built yet", exit_code=2)


def run_app(args: argparse.Namespace) -> int:
    from fttui.cli.common import CliError

    raise CliError("the app is not built yet", exit_code=2)
