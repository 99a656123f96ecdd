"""`fttui profiles` — the providers you can use (keys masked); add and remove profiles."""

from __future__ import annotations

import argparse
import sys

from fttui.cli.apicommon import add_json, add_provider_options, handles_api_errors, print_rows, warn
from fttui.cli.common import CliError, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profiles", help="list provider profiles (keys masked); add/remove")
    add_provider_options(p)
    add_json(p)
    psub = p.add_subparsers(dest="profiles_command", metavar="ACTION")
    p.set_defaults(func=cmd_list)

    q = psub.add_parser("list", help="list profiles (the default action)")
    add_provider_options(q)
    add_json(q)
    q.set_defaults(func=cmd_list)

    q = psub.add_parser("current", help="the provider a command would use now")
    add_provider_options(q)
    add_json(q)
    q.set_defaults(func=cmd_current)

    q = psub.add_parser("add", help="add or replace a profile in config.toml")
    q.add_argument("name", metavar="NAME")
    q.add_argument("--kind", choices=["openai", "azure", "bedrock", "nebius", "local", "custom"])
    q.add_argument("--base-url", dest="profile_base_url", metavar="URL")
    q.add_argument("--api-key-env", metavar="VAR", help="read the key from this variable")
    q.add_argument("--api-key-command", metavar="CMD", help="run this to print the key")
    q.add_argument(
        "--api-key",
        dest="profile_api_key",
        metavar="KEY",
        help="store the key in the file (kept 0600; prefer --api-key-env)",
    )
    q.add_argument("--organization")
    q.add_argument("--project")
    q.add_argument("--azure-endpoint", metavar="URL")
    q.add_argument("--api-version")
    q.add_argument("--region")
    q.add_argument("--default", action="store_true", help="make it the default profile")
    add_json(q)
    q.set_defaults(func=cmd_add)

    q = psub.add_parser("remove", help="remove a profile from config.toml")
    q.add_argument("name", metavar="NAME")
    add_json(q)
    q.set_defaults(func=cmd_remove)


@handles_api_errors
def cmd_list(args: argparse.Namespace) -> int:
    from fttui.api.providers import list_providers, resolve_provider
    from fttui.config import load_config

    cfg = load_config()
    providers = list_providers(config=cfg)
    try:
        current = resolve_provider(
            getattr(args, "profile", None),
            getattr(args, "base_url", None),
            getattr(args, "api_key", None),
            config=cfg,
        )
    except Exception:
        current = None
    if args.json:
        out = [
            p.to_dict()
            | {
                "configured": p.name in cfg.profiles,
                "default": p.name == cfg.default_profile,
                "current": current is not None and p.name == current.name,
            }
            for p in providers
        ]
        if current is not None and all(p.name != current.name for p in providers):
            out.append(current.to_dict() | {"configured": False, "default": False, "current": True})
        print_json(out)
        return 0
    rows = []
    for p in providers:
        mark = "*" if current is not None and p.name == current.name else " "
        where = p.base_url or ("(starts on demand)" if p.is_local else "(not set)")
        if p.needs_local_server and p.base_url:
            where += f" (running, {p.executor or '?'})"
        src = f" ({p.key_source})" if p.key_source else ""
        rows.append((mark + p.name, p.kind, where, p.masked_key + src))
    if current is not None and all(p.name != current.name for p in providers):
        src = f" ({current.key_source})" if current.key_source else ""
        rows.insert(
            0, ("*" + current.name, current.kind, current.base_url or "-", current.masked_key + src)
        )
    print_rows(rows, (" NAME", "KIND", "BASE URL", "KEY"))
    print(f"config: {cfg.path}", file=sys.stderr)
    return 0


@handles_api_errors
def cmd_current(args: argparse.Namespace) -> int:
    from fttui.api.providers import resolve_provider

    p = resolve_provider(
        getattr(args, "profile", None),
        getattr(args, "base_url", None),
        getattr(args, "api_key", None),
    )
    if args.json:
        print_json(p.to_dict())
    else:
        print(p.describe())
    return 0


@handles_api_errors
def cmd_add(args: argparse.Namespace) -> int:
    from fttui.config import PROFILE_KINDS, ProfileConfig, save_profile

    kind = args.kind or (
        args.name
        if args.name in PROFILE_KINDS
        else ("custom" if args.profile_base_url else "openai")
    )
    if kind == "custom" and not args.profile_base_url:
        raise CliError("a custom profile needs --base-url", exit_code=2)
    sources = [x for x in (args.api_key_env, args.api_key_command, args.profile_api_key) if x]
    if len(sources) > 1:
        raise CliError("give one of --api-key-env, --api-key-command, --api-key", exit_code=2)
    profile = ProfileConfig(
        name=args.name,
        kind=kind,
        base_url=args.profile_base_url,
        api_key=args.profile_api_key,
        api_key_env=args.api_key_env,
        api_key_command=args.api_key_command,
        organization=args.organization,
        project=args.project,
        azure_endpoint=args.azure_endpoint,
        api_version=args.api_version,
        region=args.region,
    )
    path = save_profile(profile, make_default=args.default)
    if args.profile_api_key:
        warn(f"the key is stored in {path} (mode 0600); an environment variable is safer")
    if args.json:
        print_json({"name": args.name, "kind": kind, "config": str(path), "default": args.default})
    else:
        print(f"profile {args.name} ({kind}) saved in {path}")
    return 0


@handles_api_errors
def cmd_remove(args: argparse.Namespace) -> int:
    from fttui.config import remove_profile

    if not remove_profile(args.name):
        raise CliError(f"no profile named {args.name!r} in the config file")
    if args.json:
        print_json({"name": args.name, "removed": True})
    else:
        print(f"profile {args.name} removed")
    return 0
