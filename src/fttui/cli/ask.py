"""`fttui ask MODEL "prompt"` — stream a model's answer (optionally beside a base model's)."""

from __future__ import annotations

import argparse
import sys

from fttui.cli.apicommon import (
    add_endpoint_options,
    add_json,
    add_provider_options,
    client_from_args,
    handles_api_errors,
    is_tty,
)
from fttui.cli.common import CliError, print_json
from fttui.text import unescape as _unescape  # shared with the Evals pane's Stop field


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ask",
        help="ask a model (streamed); --compare shows a base model too",
        description="Stream a model's answer. Prompt/completion models "
        "(babbage-002, davinci-002 and their fine-tunes) use the "
        "legacy completions endpoint.",
    )
    add_provider_options(p)
    p.add_argument("model", metavar="MODEL")
    p.add_argument("prompt", metavar="PROMPT", help='the prompt ("-" reads stdin)')
    p.add_argument("--system", "-s", help="system prompt")
    p.add_argument("--stop", action="append", metavar="S", help="stop sequence (up to 4)")
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--temperature", "-t", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--compare", metavar="BASE_MODEL", help="also ask this model, shown after")
    add_endpoint_options(p)
    add_json(p)
    p.set_defaults(func=run)


@handles_api_errors
def run(args: argparse.Namespace) -> int:
    from fttui.api.chat import stream_chat

    if args.prompt == "-" and sys.stdin is None:
        raise CliError('the prompt is "-" but stdin is closed', exit_code=2)
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        raise CliError(
            "the prompt is empty" + (" (nothing on stdin)" if args.prompt == "-" else ""),
            exit_code=2,
        )
    stops = [_unescape(s) for s in (args.stop or [])]
    if len(stops) > 4:
        raise CliError("at most 4 --stop sequences", exit_code=2)
    _, client = client_from_args(args)
    models = [args.model] + ([args.compare] if args.compare else [])
    results = []
    for i, model in enumerate(models):
        stream = stream_chat(
            client,
            model,
            prompt,
            system=args.system,
            stop=stops or None,
            temperature=args.temperature,
            max_tokens=args.max_tokens,
            legacy=args.legacy,
            seed=args.seed,
        )
        if args.json:
            results.append(stream.collect().to_dict() | {"model": model})
            continue
        if len(models) > 1:
            if i:
                print()
            print(f"── {model} ──", flush=True)
        wrote = False
        try:
            for delta in stream:
                sys.stdout.write(delta)
                sys.stdout.flush()
                wrote = True
        finally:
            if wrote:  # end the streamed line; nothing at all when the request failed
                sys.stdout.write("\n")
                sys.stdout.flush()
        res = stream.result
        if is_tty(sys.stderr) and res.finish_reason == "length":
            print("(stopped at the token limit)", file=sys.stderr)
        results.append(res.to_dict())
    if args.json:
        print_json(results[0] if len(results) == 1 else results)
    return 0
