"""`fttui serve` — a local OpenAI-compatible fine-tuning server."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="run a local OpenAI-compatible fine-tuning server",
        description=(
            "Run a local server that speaks OpenAI's fine-tuning REST API (files, uploads, "
            "jobs, events, checkpoints, models, chat and legacy completions), so the openai "
            "SDK and `fttui` work against it through a base URL. Prints the base URL and the "
            "key to use."
        ),
    )
    p.add_argument(
        "--stop",
        action="store_true",
        help="stop the server that `fttui` started in the background for "
        "--data-dir (it keeps running after the app exits, so training "
        "goes on) and exit",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; a non-loopback address needs --token)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=8765,
        help="port (default 8765; 0 picks a free one, written to server.json)",
    )
    p.add_argument(
        "--data-dir",
        default=None,
        help="where files, jobs and the database live (default: fttui's data dir)",
    )
    p.add_argument(
        "--executor",
        choices=("torch", "sim", "auto", "ray"),
        default="torch",
        help="torch: real LoRA training; sim: fast labelled simulation; auto: torch "
        "when installed, else sim; ray: each job a Ray job on a Ray cluster (default torch)",
    )
    p.add_argument(
        "--ray-address",
        default=None,
        metavar="URL",
        help="with --executor ray: the cluster's dashboard, http://HEAD:8265 "
        "(default $RAY_ADDRESS)",
    )
    p.add_argument(
        "--storage",
        default=None,
        metavar="PATH_OR_URL",
        help="with --executor ray: where the job folders live (default: the data dir): a "
        "path every node of the cluster reaches (or file://PATH), or an object store's "
        "fsspec URL (s3://bucket/prefix, gs://…) that the nodes and the server sync through",
    )
    p.add_argument(
        "--storage-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="with an object-store --storage: an fsspec option, e.g. "
        "endpoint_url=http://minio:9000 (a JSON value is parsed); repeatable; passed "
        "to the Ray jobs too",
    )
    p.add_argument(
        "--ray-pending-timeout",
        type=float,
        default=600,
        metavar="SECONDS",
        help="with --executor ray: fail a job whose Ray job waits this long for "
        "resources the cluster does not have (default 600)",
    )
    p.add_argument(
        "--token",
        default=None,
        help="the API key clients must send (default: generated once, stored 0600 "
        "in <data-dir>/api_key)",
    )
    p.add_argument(
        "--base-model",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="offer a local model (HF folder or .gguf) as base model NAME; repeatable",
    )
    p.add_argument(
        "--faults",
        default=None,
        metavar="SPEC",
        help="inject faults, e.g. 500=0.3,429=0.2,slow=0.1,drop=0.05",
    )
    p.add_argument(
        "--faults-seed",
        type=int,
        default=None,
        metavar="N",
        help="seed of the fault draws (reproducible runs)",
    )
    p.add_argument(
        "--max-upload-mb",
        type=float,
        default=512,
        metavar="N",
        help="largest file accepted by POST /v1/files (default 512)",
    )
    p.add_argument(
        "--max-request-tokens",
        type=int,
        default=None,
        metavar="N",
        help="most tokens one completion request may ask to generate, all choices "
        "and prompts together (n × max_tokens × prompts; default 32768)",
    )
    p.add_argument(
        "--rebuild-index",
        action="store_true",
        help="rebuild the database of --data-dir from its job folders and stored "
        "files (after it was lost or damaged; the old one is kept), then exit",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fttui import paths
    from fttui.cli.common import CliError
    from fttui.server.faults import parse_faults
    from fttui.server.runner import ServeError, ServeOptions, serve
    from fttui.server.trainer.weights import HUB_ID

    if args.stop:
        return _stop(Path(args.data_dir).expanduser() if args.data_dir else paths.data_dir())
    base_models: dict[str, str] = {}
    for item in args.base_model:
        name, sep, path = item.partition("=")
        if not sep or not name or not path or ":" in name:
            raise CliError(f"--base-model {item!r}: use NAME=PATH (NAME without ':')", 2)
        local = Path(path).expanduser()
        # "org/name" that is no local path is a Hugging Face Hub id: keep it as given.
        if HUB_ID.fullmatch(path) and not local.exists():
            base_models[name] = path
        else:
            base_models[name] = str(local.resolve())
    try:
        faults = parse_faults(args.faults) if args.faults else {}
    except ValueError as exc:
        raise CliError(f"--faults: {exc}", 2) from None
    if not 0 <= args.port <= 65535:
        raise CliError(f"--port {args.port}: use 0 to 65535", 2)
    if (args.ray_address or args.storage) and args.executor != "ray":
        raise CliError("--ray-address and --storage go with --executor ray", 2)
    from fttui.server.executors.storage import parse_options

    try:
        storage_options = parse_options(args.storage_option)
    except ValueError as exc:
        raise CliError(f"--storage-option {exc}", 2) from None
    if storage_options and not (args.storage and "://" in args.storage):
        raise CliError("--storage-option goes with an object-store --storage URL", 2)
    if args.ray_pending_timeout <= 0:
        raise CliError("--ray-pending-timeout must be above 0", 2)
    if args.max_upload_mb <= 0:
        raise CliError("--max-upload-mb must be above 0", 2)
    if args.max_request_tokens is not None and args.max_request_tokens < 1:
        raise CliError("--max-request-tokens must be at least 1", 2)
    options = ServeOptions(
        host=args.host,
        port=args.port,
        data_dir=Path(args.data_dir) if args.data_dir else paths.data_dir(),
        executor=args.executor,
        token=args.token,
        base_models=base_models,
        faults=faults,
        faults_seed=args.faults_seed,
        max_upload_mb=args.max_upload_mb,
        max_request_tokens=args.max_request_tokens,
        rebuild_index=args.rebuild_index,
        ray_address=args.ray_address,
        storage=args.storage,
        storage_options=storage_options,
        ray_pending_timeout=args.ray_pending_timeout,
    )
    try:
        return serve(options)
    except ServeError as exc:
        raise CliError(str(exc), 2) from None


def _stop(data_dir) -> int:
    """``fttui serve --stop``: end the background server of ``data_dir`` (0 also when none)."""
    from fttui.api.local_server import stop_local_server

    if stop_local_server(data_dir, timeout=30.0):
        print(f"fttui: stopped the local server of {data_dir}")
    else:
        print(f"fttui: no local server is running for {data_dir}")
    return 0
