"""`fttui models` — list and delete models on the current provider."""

from __future__ import annotations

import argparse

from fttui.cli.apicommon import (
    add_json,
    add_provider_options,
    client_from_args,
    command_group,
    confirm,
    dump,
    fmt_time,
    handles_api_errors,
    print_rows,
    warn,
)
from fttui.cli.common import print_json


def register(sub: argparse._SubParsersAction) -> None:
    msub = command_group(sub, "models", help="list and delete models")

    q = msub.add_parser("list", help="list models")
    add_provider_options(q)
    q.add_argument("--fine-tuned", action="store_true", help="only fine-tuned models (ft:...)")
    add_json(q)
    q.set_defaults(func=cmd_list)

    q = msub.add_parser("delete", help="delete a fine-tuned model")
    add_provider_options(q)
    q.add_argument("model_id", metavar="MODEL")
    q.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    add_json(q)
    q.set_defaults(func=cmd_delete)


@handles_api_errors
def cmd_list(args: argparse.Namespace) -> int:
    from fttui.api.models import is_fine_tuned, iter_models

    _, client = client_from_args(args)
    models = [m for m in iter_models(client) if not args.fine_tuned or is_fine_tuned(m.id)]
    models.sort(key=lambda m: (not is_fine_tuned(m.id), m.id))
    if args.json:
        print_json([dump(m) for m in models])
        return 0
    if not models:
        warn("no models")
        return 0
    print_rows(
        [(m.id, m.owned_by, fmt_time(m.created)) for m in models], ("ID", "OWNED BY", "CREATED")
    )
    return 0


@handles_api_errors
def cmd_delete(args: argparse.Namespace) -> int:
    from fttui.api.models import delete_model

    _, client = client_from_args(args)
    if not confirm(f"Delete model {args.model_id}?", assume_yes=args.yes):
        warn("not deleted")
        return 1
    deleted = delete_model(client, args.model_id)
    if args.json:
        print_json({"id": args.model_id, "deleted": deleted})
    else:
        print(f"{args.model_id} {'deleted' if deleted else 'not deleted'}")
    return 0 if deleted else 1
