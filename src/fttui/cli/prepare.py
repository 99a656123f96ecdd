"""`fttui prepare` — convert a CSV / TSV / XLSX / JSON / JSONL / TXT file to a clean JSONL.

For prompt/completion data it applies the legacy remediations and prints each change and the
`stop` to use at inference. It lints what it wrote: exit 1 when errors it cannot fix remain
(the file is still written; `--allow-errors` exits 0), 2 when the input cannot be read or the
output cannot be written, else 0.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prepare",
        help="convert and fix a training file, writing JSONL",
        description=(
            "Convert CSV / TSV / XLSX / JSON / JSONL / TXT to JSONL. Prompt/completion data gets "
            "the legacy fixes: a common separator appended to every prompt, a leading space and "
            "a common stop sequence on every completion, duplicates and empty completions "
            "dropped. Prints each change and the stop sequence to use at inference. Writes "
            "atomically and never overwrites its input."
        ),
    )
    p.add_argument("input", help="the file to prepare")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the JSONL file to write")
    p.add_argument(
        "--split",
        type=float,
        metavar="FRACTION",
        help="move this share (e.g. 0.2) to a validation file: writes OUT_train.jsonl and OUT_valid.jsonl",
    )
    p.add_argument("--seed", type=int, default=42, help="seed of the split (default: %(default)s)")
    p.add_argument(
        "--to-chat", action="store_true", help="write prompt/completion examples as chat messages"
    )
    p.add_argument(
        "--no-fix", dest="remediate", action="store_false", help="convert only; change no example"
    )
    p.add_argument(
        "--allow-errors",
        action="store_true",
        help="exit 0 even when the written file still has lint errors prepare cannot fix",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fttui.cli.common import CliError, print_json
    from fttui.datasets.prepare import PrepareError, prepare_file
    from fttui.datasets.read import DatasetReadError

    try:
        result = prepare_file(
            args.input,
            args.output,
            split=args.split,
            seed=args.seed,
            to_chat=args.to_chat,
            remediate=args.remediate,
        )
    except (DatasetReadError, PrepareError) as exc:
        raise CliError(str(exc), exit_code=2) from None
    except OSError as exc:
        raise CliError(f"cannot write {args.output}: {exc.strerror or exc}", exit_code=2) from None
    # the file is written either way (a user fixes the rest in it or in the input), but an
    # output that still has errors is not a success unless asked for
    failed = 1 if result.error_counts and not args.allow_errors else 0
    if args.json:
        print_json(result.to_dict())
        return failed
    out = sys.stdout
    for change in result.changes:
        out.write(f"- {change}\n")
    if not result.changes:
        out.write("- no changes needed\n")
    written = ", ".join(result.outputs)
    extra = f" ({result.validation_examples} for validation)" if result.validation_examples else ""
    out.write(
        f"wrote {result.examples_written} {result.format.replace('_', '/')} examples{extra} to {written}\n"
    )
    if result.separator:
        out.write(f"separator: {result.separator!r} — end every prompt with it at inference\n")
    if result.stop:
        out.write(f"stop: {result.stop!r} — pass stop=[{result.stop!r}] at inference\n")
    if result.error_counts:
        total = sum(result.error_counts.values())
        err = sys.stderr
        err.write(f"error: {written} still has {total} error{'s' if total != 1 else ''}:\n")
        for line in result.errors:
            err.write(f"  {line}\n")
        if total > len(result.errors):
            err.write(f"  … and {total - len(result.errors)} more (`fttui lint {written}`)\n")
        if failed:
            err.write("the file is written; fix these and prepare again, or pass --allow-errors\n")
    return failed
