"""Benchmark the local trainer: a job through `fttui serve` vs a bare peft loop.

    python bench/trainer.py                         # SmolLM2-135M-Instruct, fp32 and bf16
    python bench/trainer.py --examples 32 --precisions fp32

For each precision, in the same run and on the same model and data (``--examples``
synthetic chat examples of ~130 tokens, one epoch at ``--batch-size``):

1. job: ``fttui serve --executor torch`` trains it as a fine-tuning job created with the
   openai SDK (``metadata={"torch_precision": ...}``); its training tokens/s is what the
   trainer reports when it finishes — trained tokens over the wall time of its training loop,
   including the job's own work (metrics, events, state, control checks, checkpoints).
2. bare: the same LoRA config (``LORA_DEFAULTS``) on the same base model in this process,
   the same batches, ``model(..., labels=...).loss``, AdamW — nothing else; one warm-up
   step untimed, as the trainer also warms up while it measures the machine's speed.

Each is run ``--repeat`` times, interleaved, and the best run of each counts (the
machine's other work only ever slows a run down). Budget: job ≥ 0.95 × bare tokens/s. Also prints the end-to-end time of each (the job's
includes the trainer process start and model load). Exit status 1 when a budget is missed.
The converted model is cached in fttui's cache dir, so only the first run pays ~30 s.

    python bench/trainer.py --small-style           # does `auto` learn a 12-example style?

``--small-style``: 12 chat examples in one style (answers start "Arr, matey!" and end
" END"), 4 epochs, everything else "auto", through ``fttui serve``; prints the learning
rate the job chose, the loss every few steps, and the answers to 3 held-out prompts with
``stop=[" END"]`` (and their finish_reason). Exit status 1 unless every held-out answer is
in the style and ends with the stop.

    python bench/trainer.py --rft                   # GRPO samples/s: job vs bare loop

``--rft``: reinforcement fine-tuning (GRPO) on the tiny model of ``tests/trainer/tiny.py``
(built offline into a temporary folder), ``--rft-prompts`` prompts, ``--rft-epochs`` epochs
of ``--batch-size`` prompts × ``GROUP_SIZE`` samples of up to ``--rft-max-new`` tokens, a
``string_check`` grader, full fine-tune:

1. job: an RFT job through ``fttui serve --executor torch`` and the openai SDK; its
   samples/s is what the trainer reports when it finishes — completions sampled and graded
   over the wall time of its GRPO loop (after the model is loaded, before the final save),
   including the job's own work (metrics, events, state, control checks, checkpoints).
2. bare: the same model, seed, batches, group size and steps in this process — generate,
   grade (the same check in plain Python), group-relative advantages, policy gradient,
   AdamW — nothing else.

The fixed start-up (trainer process, model load; and the final save) is printed apart as
end-to-end minus loop time. Best of ``--repeat`` interleaved runs; budget: job ≥ 0.9 × bare
samples/s, exit status 1 when missed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BUDGET = 0.95
RFT_BUDGET = 0.9
RFT_TARGET = "red"
#: ilike: the answer contains the item's reference (the bare loop checks the same in Python)
RFT_GRADER = {
    "type": "string_check",
    "name": "says-red",
    "input": "{{sample.output_text}}",
    "reference": "{{item.reference_answer}}",
    "operation": "ilike",
}
TOKEN = "sk-bench"
WORDS = [
    "the",
    "model",
    "learns",
    "from",
    "every",
    "example",
    "it",
    "reads",
    "and",
    "keeps",
    "what",
    "helps",
    "it",
    "answer",
    "questions",
    "about",
    "data",
    "training",
    "loss",
    "tokens",
    "adapters",
    "rank",
    "alpha",
    "epochs",
    "batches",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_examples(n: int, seed: int = 0) -> list[dict]:
    rnd = random.Random(seed)
    return [
        {
            "messages": [
                {"role": "user", "content": f"Question {i}: " + " ".join(rnd.choices(WORDS, k=15))},
                {"role": "assistant", "content": " ".join(rnd.choices(WORDS, k=80))},
            ]
        }
        for i in range(n)
    ]


class Server:
    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.extra = extra
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        log = (self.data_dir.parent / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fttui",
                "serve",
                "--executor",
                "torch",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--token",
                TOKEN,
                *self.extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/v1/models", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        for _ in range(600):
            try:
                with urllib.request.urlopen(req, timeout=2):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("fttui serve did not start")

    def __exit__(self, *exc) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(timeout=30)

    def client(self):
        import openai

        return openai.OpenAI(
            base_url=f"http://127.0.0.1:{self.port}/v1", api_key=TOKEN, max_retries=0, timeout=60
        )


# The --small-style set lives with the test that asserts on it: one copy, the same data.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "trainer"))
import style_set  # noqa: E402
import tiny  # noqa: E402


def small_style(args) -> int:
    """Train the style set with auto hyperparameters; print the curve and held-out answers."""
    with tempfile.TemporaryDirectory(prefix="fttui-bench-style-") as tmp:
        path = Path(tmp) / "style.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in style_set.style_examples()))
        with Server(Path(tmp) / "data") as server:
            client = server.client()
            client.timeout = 300
            with path.open("rb") as fh:
                training = client.files.create(file=fh, purpose="fine-tune").id
            metadata = dict(f"torch_{kv}".split("=", 1) for kv in args.job_option)
            started = time.perf_counter()
            job = client.fine_tuning.jobs.create(
                model=args.model,
                training_file=training,
                seed=0,
                metadata=metadata or None,
                method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 4}}},
            )
            while job.status not in ("succeeded", "failed", "cancelled"):
                time.sleep(0.5)
                job = client.fine_tuning.jobs.retrieve(job.id)
            if job.status != "succeeded":
                print(f"job {job.status}: {job.error}")
                return 1
            events = client.fine_tuning.jobs.list_events(job.id, limit=1000).data
            plan = next(e for e in events if e.message.startswith("This job"))
            print(f"job: {job.hyperparameters}; {plan.message}")
            losses = sorted(
                (e.data for e in events if e.type == "metrics"), key=lambda d: d["step"]
            )
            every = max(1, len(losses) // 12)
            print(
                "loss: "
                + ", ".join(
                    f"{d['step']}:{d['train_loss']:.2f}"
                    for d in losses
                    if d["step"] % every == 0 or d["step"] == 1
                )
            )
            print(f"trained in {time.perf_counter() - started:.0f} s end to end")
            ok = True
            for prompt in style_set.HELD_OUT:
                reply = client.chat.completions.create(
                    model=job.fine_tuned_model,
                    temperature=0,
                    max_completion_tokens=48,
                    messages=[{"role": "user", "content": prompt}],
                    stop=[style_set.STOP],
                )
                choice = reply.choices[0]
                good = (
                    choice.message.content.startswith(style_set.OPENER)
                    and choice.finish_reason == "stop"
                )
                ok &= good
                print(
                    f"  {prompt!r} -> {choice.message.content!r} "
                    f"[{choice.finish_reason}] {'ok' if good else 'NOT LEARNED'}"
                )
    return 0 if ok else 1


def rft_examples(n: int) -> list[dict]:
    questions = [e["messages"][1]["content"] for e in tiny.color_examples(8)]
    return [
        {
            "messages": [{"role": "user", "content": questions[i % len(questions)]}],
            "reference_answer": RFT_TARGET,
        }
        for i in range(n)
    ]


def rft_job(server: Server, training: str, args) -> dict:
    client = server.client()
    started = time.perf_counter()
    job = client.fine_tuning.jobs.create(
        model="tiny",
        training_file=training,
        seed=0,
        method={
            "type": "reinforcement",
            "reinforcement": {
                "grader": RFT_GRADER,
                "hyperparameters": {"n_epochs": args.rft_epochs, "batch_size": args.batch_size},
            },
        },
        metadata={
            "torch_rft_max_new_tokens": str(args.rft_max_new),
            "torch_lora": "false",
            "torch_learning_rate": "3e-3",
        },
    )
    while job.status not in ("succeeded", "failed", "cancelled"):
        time.sleep(0.2)
        job = client.fine_tuning.jobs.retrieve(job.id)
    wall = time.perf_counter() - started
    if job.status != "succeeded":
        raise RuntimeError(f"the RFT job {job.status}: {job.error}")
    events = client.fine_tuning.jobs.list_events(job.id, limit=1000).data
    done = next(e.data for e in events if e.message.startswith("Training finished"))
    rewards = [e.data["train_reward_mean"] for e in events if e.type == "metrics"][::-1]
    return {
        "samples": done["samples"],
        "seconds": done["train_seconds"],
        "wall": wall,
        "tokens": job.trained_tokens,
        "rewards": rewards,
    }


def rft_bare(path: Path, model_dir: Path, args) -> dict:
    """The same GRPO steps as a plain torch loop, in this process."""
    import statistics

    import torch

    from fttui.server.trainer.data import epoch_order
    from fttui.server.trainer.grpo import GROUP_SIZE, read_prompts
    from fttui.server.trainer.weights import load_model, load_tokenizer

    started = time.perf_counter()
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    tokenizer = load_tokenizer(str(model_dir))
    # the same prompt ids as the job's (parsing is outside the loop either way)
    prompts = [p.ids for p in read_prompts(str(path), tokenizer, 2048)]
    model = load_model(str(model_dir))
    model.config.use_cache = False
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    samples, tokens, rewards_per_step = 0, 0, []
    loop_started = time.perf_counter()
    for epoch in range(args.rft_epochs):
        for batch in epoch_order(len(prompts), args.batch_size, 0, epoch):
            step_rewards = []
            for index in batch:
                prompt = torch.tensor([prompts[index]]).repeat(GROUP_SIZE, 1)
                model.eval()
                with torch.no_grad():
                    out = model.generate(
                        input_ids=prompt,
                        attention_mask=torch.ones_like(prompt),
                        do_sample=True,
                        temperature=1.0,
                        top_p=None,
                        top_k=0,
                        max_new_tokens=args.rft_max_new,
                        pad_token_id=pad,
                        eos_token_id=eos,
                        use_cache=True,
                    )
                model.train()
                rows = []
                for row in out[:, prompt.shape[1] :].tolist():
                    rows.append(row[: row.index(eos) + 1] if eos in row else row)
                texts = [tokenizer.decode(r, skip_special_tokens=True).strip() for r in rows]
                scores = [float(RFT_TARGET in t.lower()) for t in texts]
                step_rewards += scores
                mean, std = statistics.fmean(scores), statistics.pstdev(scores)
                advs = [(r - mean) / (std + 1e-4) if std >= 1e-6 else 0.0 for r in scores]
                # one padded batch of prompt + completion, log-probs of the completion tokens
                n_prompt, width = prompt.shape[1], prompt.shape[1] + max(len(r) for r in rows)
                ids = torch.full((GROUP_SIZE, width), pad)
                attn = torch.zeros((GROUP_SIZE, width), dtype=torch.long)
                mask = torch.zeros((GROUP_SIZE, width))
                for i, row in enumerate(rows):
                    ids[i, : n_prompt + len(row)] = torch.tensor(prompts[index] + row)
                    attn[i, : n_prompt + len(row)] = 1
                    mask[i, n_prompt : n_prompt + len(row)] = 1
                logits = model(input_ids=ids, attention_mask=attn).logits[:, :-1].float()
                logp = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
                m = mask[:, 1:]
                per_seq = (logp * m).sum(1) / m.sum(1).clamp(min=1)
                loss = -(torch.tensor(advs) * per_seq).sum() / (len(batch) * GROUP_SIZE)
                loss.backward()
                samples += GROUP_SIZE
                tokens += int(m.sum()) + n_prompt * GROUP_SIZE
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            rewards_per_step.append(statistics.fmean(step_rewards))
    seconds = time.perf_counter() - loop_started
    return {
        "samples": samples,
        "seconds": seconds,
        "wall": time.perf_counter() - started,
        "tokens": tokens,
        "rewards": rewards_per_step,
    }


def rft(args) -> int:
    """GRPO samples/s of an RFT job through the server vs the same loop bare."""
    import torch

    print(
        f"RFT bench: tiny model, {args.rft_prompts} prompts, {args.rft_epochs} epochs of "
        f"batch {args.batch_size}, up to {args.rft_max_new} new tokens, full fine-tune; torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads; load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory(prefix="fttui-bench-rft-") as tmp:
        corpus = [json.dumps(e) for e in tiny.color_examples()] * 4  # as the tests' fixture
        model_dir = tiny.build_tiny_model(Path(tmp) / "tiny", corpus)
        path = tiny.write_jsonl(Path(tmp) / "rft.jsonl", rft_examples(args.rft_prompts))
        with Server(Path(tmp) / "data", "--base-model", f"tiny={model_dir}") as server:
            with path.open("rb") as fh:
                training = server.client().files.create(file=fh, purpose="fine-tune").id
            jobs, bares = [], []
            for _ in range(args.repeat):  # interleaved, so drift hits both alike
                jobs.append(rft_job(server, training, args))
                bares.append(rft_bare(path, model_dir, args))
                if args.verbose:
                    j, b = jobs[-1], bares[-1]
                    print(
                        f"   run: job {j['samples'] / j['seconds']:.1f} samples/s, bare "
                        f"{b['samples'] / b['seconds']:.1f} samples/s; load average "
                        f"{os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
    job = max(jobs, key=lambda r: r["samples"] / r["seconds"])
    bare = max(bares, key=lambda r: r["samples"] / r["seconds"])
    ratio = (job["samples"] / job["seconds"]) / (bare["samples"] / bare["seconds"])
    for name, r in (("job ", job), ("bare", bare)):
        quarter = max(1, len(r["rewards"]) // 4)
        first, last = r["rewards"][:quarter], r["rewards"][-quarter:]
        print(
            f"{name}: {r['samples'] / r['seconds']:6.1f} samples/s ({r['samples']} samples in "
            f"{r['seconds']:.2f} s; {r['tokens'] / r['seconds']:,.0f} tokens/s); start-up and "
            f"save {r['wall'] - r['seconds']:.1f} s; mean reward "
            f"{sum(first) / len(first):.2f} → {sum(last) / len(last):.2f}"
        )
    ok = ratio >= RFT_BUDGET
    print(
        f"ratio {ratio:.2f}× (budget ≥ {RFT_BUDGET}×) {'ok' if ok else 'MISSED'}; "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    return 0 if ok else 1


def run_job(server: Server, training: str, args, precision: str) -> dict:
    client = server.client()
    started = time.perf_counter()
    metadata = {"torch_precision": precision}
    metadata.update(f"torch_{kv}".split("=", 1) for kv in args.job_option)
    job = client.fine_tuning.jobs.create(
        model=args.model,
        training_file=training,
        seed=0,
        metadata=metadata,
        method={
            "type": "supervised",
            "supervised": {
                "hyperparameters": {
                    "n_epochs": 1,
                    "batch_size": args.batch_size,
                    "learning_rate_multiplier": 0.1,
                }
            },
        },
    )
    while job.status not in ("succeeded", "failed", "cancelled"):
        time.sleep(0.5)
        job = client.fine_tuning.jobs.retrieve(job.id)
    wall = time.perf_counter() - started
    if job.status != "succeeded":
        raise RuntimeError(f"the {precision} job {job.status}: {job.error}")
    events = client.fine_tuning.jobs.list_events(job.id, limit=1000).data
    done = next(e.data for e in events if e.message.startswith("Training finished"))
    if args.verbose:
        print("   job:", next(e.message for e in events if e.message.startswith("This job")))
    return {"tokens": done["trained_tokens"], "seconds": done["train_seconds"], "wall": wall}


def run_bare(path: Path, args, precision: str) -> dict:
    """The same training as a plain peft loop, in this process."""
    import torch
    from peft import LoraConfig, get_peft_model

    from fttui.server.trainer import LORA_DEFAULTS, learning_rate
    from fttui.server.trainer.data import collate, encode_file, epoch_order
    from fttui.server.trainer.weights import load_model, load_tokenizer, local_weights, resolve

    started = time.perf_counter()
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    weights = local_weights(resolve(args.model))
    tokenizer = load_tokenizer(weights)
    examples = encode_file(path, tokenizer, method="supervised", max_length=2048)
    model = load_model(weights, precision=precision)
    model.config.use_cache = False
    model = get_peft_model(
        model,
        LoraConfig(
            r=LORA_DEFAULTS["lora_r"],
            lora_alpha=LORA_DEFAULTS["lora_alpha"],
            lora_dropout=LORA_DEFAULTS["lora_dropout"],
            target_modules=LORA_DEFAULTS["target_modules"],
            task_type="CAUSAL_LM",
        ),
    )
    model.train()
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=learning_rate(0.1)
    )
    batches = epoch_order(len(examples), args.batch_size, 0, 0)

    def step(batch: list[int]) -> None:
        ids, mask, labels = collate([examples[i] for i in batch], tokenizer.pad_token_id)
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()

    step(batches[0])  # warm-up, untimed
    model.zero_grad(set_to_none=True)
    loop_started = time.perf_counter()
    for batch in batches:
        step(batch)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    seconds = time.perf_counter() - loop_started
    tokens = sum(examples[i].n_tokens for b in batches for i in b)
    return {"tokens": tokens, "seconds": seconds, "wall": time.perf_counter() - started}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="SmolLM2-135M-Instruct")
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--batch-size", type=int, help="default 8 (--rft: 2 prompts)")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each, interleaved; the best of each counts (default 3)",
    )
    parser.add_argument(
        "--job-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a trainer option for the job (e.g. micro_batch_tokens=2048)",
    )
    parser.add_argument("--verbose", action="store_true", help="print every run")
    parser.add_argument(
        "--small-style",
        action="store_true",
        help="train a 12-example style set with auto settings; print the "
        "loss curve and held-out answers",
    )
    parser.add_argument(
        "--rft",
        action="store_true",
        help="GRPO samples/s of an RFT job on the tiny model vs the same loop bare",
    )
    parser.add_argument("--rft-prompts", type=int, default=32)
    parser.add_argument("--rft-epochs", type=int, default=4)
    parser.add_argument("--rft-max-new", type=int, default=16)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if args.small_style:
        return small_style(args)
    if args.rft:
        args.batch_size = args.batch_size or 2
        return rft(args)
    args.batch_size = args.batch_size or 8
    import torch

    from fttui.server.trainer.weights import local_weights, resolve

    print(
        f"trainer bench: {args.model}, {args.examples} examples, batch {args.batch_size}, "
        f"1 epoch, LoRA; torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{'cuda' if torch.cuda.is_available() else 'cpu'}"
    )
    local_weights(resolve(args.model), log=print)  # convert once, outside the timings
    ok = True
    with tempfile.TemporaryDirectory(prefix="fttui-bench-trainer-") as tmp:
        path = Path(tmp) / "train.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in make_examples(args.examples)))
        with Server(Path(tmp) / "data") as server:
            with path.open("rb") as fh:
                training = server.client().files.create(file=fh, purpose="fine-tune").id
            for precision in args.precisions.split(","):
                jobs, bares = [], []
                for _ in range(args.repeat):  # interleaved, so drift hits both alike
                    jobs.append(run_job(server, training, args, precision))
                    bares.append(run_bare(path, args, precision))
                    if args.verbose:
                        print(
                            f"   {precision} run: job {jobs[-1]['tokens'] / jobs[-1]['seconds']:.1f}"
                            f" tok/s, bare {bares[-1]['tokens'] / bares[-1]['seconds']:.1f} tok/s",
                            flush=True,
                        )
                job = max(jobs, key=lambda r: r["tokens"] / r["seconds"])
                bare = max(bares, key=lambda r: r["tokens"] / r["seconds"])
                job_rate = job["tokens"] / job["seconds"]
                bare_rate = bare["tokens"] / bare["seconds"]
                ratio = job_rate / bare_rate
                ok &= ratio >= BUDGET
                print(
                    f"{precision}: job {job_rate:7.1f} tok/s ({job['tokens']} tokens in "
                    f"{job['seconds']:.1f} s; {job['wall']:.1f} s end to end)   bare peft "
                    f"{bare_rate:7.1f} tok/s ({bare['tokens']} tokens in {bare['seconds']:.1f} s;"
                    f" {bare['wall']:.1f} s end to end)   ratio {ratio:.2f}× "
                    f"(budget ≥ {BUDGET}×) {'ok' if ratio >= BUDGET else 'MISSED'}",
                    flush=True,
                )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
