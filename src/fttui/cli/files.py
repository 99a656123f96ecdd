"""`fttui files` — list, upload, delete and download files on the current provider."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fttui.cli.apicommon import (
    ProgressBar,
    add_json,
    add_provider_options,
    client_from_args,
    command_group,
    confirm,
    dump,
    fmt_num,
    fmt_time,
    handles_api_errors,
    print_rows,
    warn,
)
from fttui.cli.common import CliError, print_json


def register(sub: argparse._SubParsersAction) -> None:
    fsub = command_group(sub, "files", help="list, upload, delete and download files")

    q = fsub.add_parser("list", help="list files")
    add_provider_options(q)
    q.add_argument("--purpose", help="only files with this purpose (e.g. fine-tune)")
    add_json(q)
    q.set_defaults(func=cmd_list)

    q = fsub.add_parser("upload", help="upload a file (progress bar; big files in parts)")
    add_provider_options(q)
    q.add_argument("path", metavar="PATH")
    q.add_argument("--purpose", default="fine-tune")
    q.add_argument("--no-wait", action="store_true", help="do not wait for processing")
    add_json(q)
    q.set_defaults(func=cmd_upload)

    q = fsub.add_parser("delete", help="delete a file")
    add_provider_options(q)
    q.add_argument("file_id", metavar="FILE_ID")
    q.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    add_json(q)
    q.set_defaults(func=cmd_delete)

    q = fsub.add_parser("download", help="download a file's content (stdout without -o)")
    add_provider_options(q)
    q.add_argument("file_id", metavar="FILE_ID")
    q.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="write here (a file, or a folder: keeps the file's name) instead of stdout",
    )
    q.add_argument(
        "--json",
        action="store_true",
        help="with -o: print {id, path, bytes} as JSON instead of a note on stderr",
    )
    q.set_defaults(func=cmd_download)


@handles_api_errors
def cmd_list(args: argparse.Namespace) -> int:
    from fttui.api.files import iter_files

    _, client = client_from_args(args)
    files = list(iter_files(client, purpose=args.purpose))
    if args.json:
        print_json([dump(f) for f in files])
        return 0
    if not files:
        warn("no files")
        return 0
    rows = [
        (
            f.id,
            f.filename,
            fmt_num(f.bytes),
            f.purpose,
            getattr(f, "status", None) or "-",
            fmt_time(f.created_at),
        )
        for f in files
    ]
    print_rows(rows, ("ID", "FILENAME", "BYTES", "PURPOSE", "STATUS", "CREATED"))
    return 0


@handles_api_errors
def cmd_upload(args: argparse.Namespace) -> int:
    from fttui.api.files import upload_file, wait_processed

    path = Path(args.path).expanduser()
    if path.is_dir():
        raise CliError(f"{args.path} is a folder, not a file")
    if not path.is_file():
        raise CliError(f"no such file: {args.path}")
    _, client = client_from_args(args)
    bar = ProgressBar()
    f = upload_file(
        client, path, purpose=args.purpose, progress=lambda done, total: bar("upload", done, total)
    )
    if not args.no_wait:
        bar("processing", 0, 1)
        f = wait_processed(client, f.id)
        bar("processing", 1, 1)
    bar.finish()
    if args.json:
        print_json(dump(f))
    else:
        print(
            f"{f.id} {f.filename} {fmt_num(f.bytes)} bytes {getattr(f, 'status', '') or ''}".rstrip()
        )
    return 0


@handles_api_errors
def cmd_delete(args: argparse.Namespace) -> int:
    from fttui.api.files import delete_file

    _, client = client_from_args(args)
    if not confirm(f"Delete file {args.file_id}?", assume_yes=args.yes):
        warn("not deleted")
        return 1
    deleted = delete_file(client, args.file_id)
    if args.json:
        print_json({"id": args.file_id, "deleted": deleted})
    else:
        print(f"{args.file_id} {'deleted' if deleted else 'not deleted'}")
    return 0 if deleted else 1


@handles_api_errors
def cmd_download(args: argparse.Namespace) -> int:
    from fttui.api.files import download_file

    if args.json and not args.output:
        raise CliError(
            "--json needs -o PATH (without it the content itself goes to stdout)", exit_code=2
        )
    _, client = client_from_args(args)
    if args.output:
        dest = download_file(client, args.file_id, Path(args.output).expanduser())
        if args.json:
            print_json({"id": args.file_id, "path": str(dest), "bytes": dest.stat().st_size})
        else:
            print(f"wrote {dest}", file=sys.stderr)
        return 0
    data = download_file(client, args.file_id)
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    return 0
