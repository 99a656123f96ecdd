"""Reinforcement fine-tuning on the local model: GRPO with the job's grader.

Each step takes ``batch_size`` prompts, samples a group of completions for each (the group
size grows with ``compute_multiplier``), scores every completion with the grader (the same
graders as ``fttui eval`` and OpenAI's RFT: :mod:`fttui.evals`), and turns the scores into
advantages relative to their own group — so a prompt teaches something only where its
samples differ. The update is the policy gradient of the group-relative advantages over the
completion tokens (GRPO with one update per batch of samples, where the clipped ratio is 1;
no KL term, as current GRPO practice drops it). One optimizer step per training step, LoRA
or full, with the run's schedule; checkpoints, pause/resume and cancel as for supervised
jobs.

Rewards go out as metrics events: ``train_reward_mean``, each sub-grader's
``train_reward/<name>`` (a multi grader), ``valid_reward_mean`` every ``eval_interval``
steps (greedy answers to the validation prompts) and ``full_valid_reward_mean`` at each
epoch's end.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from fttui.server.jobfolder import METRICS_FILE, MODEL_DIR
from fttui.server.rft import unsupported_grader
from fttui.server.trainer.data import DataError, epoch_order, steps_per_epoch

if TYPE_CHECKING:
    from fttui.server.trainer.loop import Run

#: completions sampled per prompt at compute_multiplier 1 (×multiplier, at least 2)
GROUP_SIZE = 4
MAX_GROUP_SIZE = 16
#: tokens a sampled completion may run to (option ``rft_max_new_tokens``)
MAX_NEW_TOKENS = 48
RFT_METRICS_HEADER = ("step", "train_reward_mean", "valid_reward_mean", "full_valid_reward_mean")


@dataclass
class Prompt:
    ids: list[int]
    item: dict[str, Any]


def read_prompts(path: str, tokenizer: Any, max_length: int) -> list[Prompt]:
    """The RFT examples of a file: each prompt through the chat template, and the whole
    example as the grader's ``item`` (its reference fields)."""
    prompts: list[Prompt] = []
    with open(path, encoding="utf-8") as fh:
        for n, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                example = json.loads(raw)
                messages = example["messages"]
            except (ValueError, KeyError, TypeError):
                raise DataError(f"line {n} is not an RFT example with `messages`") from None
            # chat templates know system, not developer (the reasoning models' name for it)
            chat = [
                {**m, "role": "system" if m.get("role") == "developer" else m.get("role")}
                for m in messages
                if isinstance(m, dict)
            ]
            ids = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=True)
            if isinstance(ids, dict) or hasattr(ids, "input_ids"):
                ids = ids["input_ids"]
            ids = list(ids)
            if len(ids) > max_length:
                raise DataError(f"line {n}: the prompt is {len(ids)} tokens, over {max_length}")
            prompts.append(Prompt(ids, example))
    if not prompts:
        raise DataError("no examples")
    return prompts


class Grader:
    """The job's grader, scoring one completion of one item in [0, 1]."""

    def __init__(self, grader: dict[str, Any]):
        from fttui.evals import Runner, check

        self.grader = check(grader)
        self.runner = Runner()

    def score(self, item: dict[str, Any], text: str) -> tuple[float, dict[str, float]]:
        from fttui.evals import run

        result = run(self.grader, item, text, self.runner)
        if result.failed:
            return 0.0, {}
        return float(result.reward), {k: float(v) for k, v in result.sub_rewards.items()}


class Sampler:
    """Sampling and scoring completions for a list of prompts."""

    def __init__(self, model: Any, tokenizer: Any, device: str, max_new: int):
        self.model, self.tokenizer, self.device, self.max_new = model, tokenizer, device, max_new
        self.pad = (
            tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        )
        self.eos = tokenizer.eos_token_id

    @torch.no_grad()
    def sample(self, prompt: Prompt, n: int, *, greedy: bool = False) -> list[list[int]]:
        """``n`` completions of ``prompt`` (token ids, each cut after its end token)."""
        ids = torch.tensor([prompt.ids], device=self.device).repeat(n, 1)
        was_training = self.model.training
        self.model.eval()
        try:
            out = self.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                do_sample=not greedy,
                temperature=1.0 if not greedy else None,
                top_p=None,
                top_k=0 if not greedy else None,
                max_new_tokens=self.max_new,
                pad_token_id=self.pad,
                eos_token_id=self.eos,
                use_cache=True,
            )
        finally:
            self.model.train(was_training)
        completions: list[list[int]] = []
        for row in out[:, ids.shape[1] :].tolist():
            if self.eos in row:
                row = row[: row.index(self.eos) + 1]
            while row and row[-1] == self.pad and self.pad != self.eos:
                row.pop()
            completions.append(row)
        return completions

    def text(self, completion: list[int]) -> str:
        return self.tokenizer.decode(completion, skip_special_tokens=True).strip()


def group_advantages(rewards: list[float]) -> list[float]:
    """Each reward against its group: (r - mean) / std; all zero when the group agrees."""
    mean = statistics.fmean(rewards)
    std = statistics.pstdev(rewards)
    if std < 1e-6:
        return [0.0] * len(rewards)
    return [(r - mean) / (std + 1e-4) for r in rewards]


def policy_loss(
    model: Any,
    prompt: Prompt,
    completions: list[list[int]],
    advantages: list[float],
    pad: int,
    device: str,
) -> tuple[torch.Tensor, int]:
    """−Σ advantage × mean log-probability of each completion's tokens (and the token count)."""
    rows = [prompt.ids + c for c in completions if c]
    advs = [a for c, a in zip(completions, advantages, strict=True) if c]
    if not rows:
        return torch.zeros((), device=device), 0
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long, device=device)
    mask = torch.zeros((len(rows), width), dtype=torch.bool, device=device)
    attn = torch.zeros((len(rows), width), dtype=torch.long, device=device)
    start = len(prompt.ids)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, device=device)
        attn[i, : len(row)] = 1
        mask[i, start : len(row)] = True
    logits = model(input_ids=ids, attention_mask=attn).logits[:, :-1].float()
    targets = ids[:, 1:]
    logp = torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    m = mask[:, 1:].float()
    per_seq = (logp * m).sum(dim=1) / m.sum(dim=1).clamp(min=1)
    adv = torch.tensor(advs, device=device, dtype=per_seq.dtype)
    return -(adv * per_seq).sum(), int(m.sum())


def mean_reward(sampler: Sampler, grader: Grader, prompts: list[Prompt], check: Any) -> float:
    """The mean reward of greedy answers to ``prompts`` (validation)."""
    scores = []
    for prompt in prompts:
        check()
        completion = sampler.sample(prompt, 1, greedy=True)[0]
        scores.append(grader.score(prompt.item, sampler.text(completion))[0])
    return statistics.fmean(scores) if scores else 0.0


def run_rft(run: Run, tokenizer: Any, weights: str, device: str, resume: Path | None) -> None:
    """The whole RFT job (the counterpart of ``Run.run``'s supervised part)."""
    from fttui.server.trainer.loop import Stop, _fmt_seconds

    spec, job, opts = run.spec, run.job, run.opts
    if spec.grader is None:
        raise DataError("a reinforcement job needs a grader")
    why = unsupported_grader(spec.grader)
    if why:
        raise DataError(why)
    grader = Grader(spec.grader)
    train = read_prompts(spec.training_file, tokenizer, run.max_length)
    valid = (
        read_prompts(spec.validation_file, tokenizer, run.max_length)
        if spec.validation_file
        else None
    )
    model = run._build_model(weights, device, resume)
    run.check_control()

    multiplier = float(opts.get("compute_multiplier") or 1.0)
    group = max(2, min(MAX_GROUP_SIZE, round(GROUP_SIZE * multiplier)))
    max_new = int(opts.get("rft_max_new_tokens") or MAX_NEW_TOKENS)
    batch_size = min(spec.batch_size, len(train))
    spe = steps_per_epoch(len(train), batch_size)
    total_steps = spec.n_epochs * spe
    eval_interval = int(opts.get("eval_interval") or spe)
    params, optimizer, scheduler, step = run.optimizer_from(model, total_steps, resume)
    job.start_metrics(step, header=RFT_METRICS_HEADER)
    job.update(step=step, total_steps=total_steps)
    kind = "LoRA" if spec.lora else "full"
    n_valid = f" and {len(valid)} validation prompts" if valid else ""
    job.event(
        f"Reinforcement fine-tuning ({kind} GRPO) on {len(train)} prompts{n_valid}: "
        f"{total_steps} steps of {batch_size} prompt{'s' if batch_size > 1 else ''} × "
        f"{group} samples (up to {max_new} tokens each), lr {run.lr:.2g}, on {device}",
        data={
            "examples": len(train),
            "total_steps": total_steps,
            "group_size": group,
            "learning_rate": run.lr,
            "device": device,
        },
    )
    if resume is not None:
        job.event(f"Fine-tuning resumed at step {step}")

    sampler = Sampler(model, tokenizer, device, max_new)
    started = time.perf_counter()
    samples_done = 0
    first_step = step
    run.step = step
    try:
        for epoch in range(step // spe, spec.n_epochs):
            batches = epoch_order(len(train), batch_size, spec.seed, epoch)
            for batch in batches[step - epoch * spe :]:
                rewards: list[float] = []
                subs: dict[str, list[float]] = {}
                tokens = 0
                for index in batch:
                    prompt = train[index]
                    run.check_control()
                    completions = sampler.sample(prompt, group)
                    scores = []
                    for completion in completions:
                        reward, sub = grader.score(prompt.item, sampler.text(completion))
                        scores.append(reward)
                        for name, value in sub.items():
                            subs.setdefault(name, []).append(value)
                    rewards += scores
                    run.check_control()
                    loss, n = policy_loss(
                        model, prompt, completions, group_advantages(scores), sampler.pad, device
                    )
                    if n:
                        (loss / (len(batch) * group)).backward()
                    tokens += n + len(prompt.ids) * group
                    samples_done += group
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                run.step = step
                metrics: dict[str, Any] = {
                    "step": step,
                    "total_steps": total_steps,
                    "train_reward_mean": round(statistics.fmean(rewards), 6),
                }
                for name, values in subs.items():
                    metrics[f"train_reward/{name}"] = round(statistics.fmean(values), 6)
                check = run.check_control
                if valid is not None and (step % eval_interval == 0 or step == total_steps):
                    metrics["valid_reward_mean"] = round(
                        mean_reward(sampler, grader, valid, check), 6
                    )
                epoch_end = step % spe == 0
                if epoch_end and valid is not None:
                    metrics["full_valid_reward_mean"] = metrics.get("valid_reward_mean") or round(
                        mean_reward(sampler, grader, valid, check), 6
                    )
                job.add_metrics_row(metrics, header=RFT_METRICS_HEADER)
                text = f"Step {step}/{total_steps}: mean reward={metrics['train_reward_mean']:.4f}"
                if "valid_reward_mean" in metrics:
                    text += f", validation mean reward={metrics['valid_reward_mean']:.4f}"
                job.event(text, type="metrics", data=metrics)
                elapsed = time.perf_counter() - started
                per_step = elapsed / max(step - first_step, 1)
                job.update(
                    step=step,
                    trained_tokens=job.state.trained_tokens + tokens,
                    estimated_finish=int(time.time() + per_step * (total_steps - step)),
                )
                if epoch_end:
                    ckpt = {k: v for k, v in metrics.items() if k != "total_steps"}
                    run.save_checkpoint(model, tokenizer, step, ckpt, optimizer, scheduler)
    except Stop as stop:
        run._stopped(stop.action, model, tokenizer, optimizer, scheduler)
        return

    # the loop's time, as the supervised summary: the final save is a fixed cost, not the loop
    elapsed = time.perf_counter() - started
    run._save(model, tokenizer, job.path / MODEL_DIR, {"fine_tuned_model": spec.fine_tuned_model})
    summary = {
        "samples": samples_done,
        "train_seconds": round(elapsed, 3),
        "samples_per_second": round(samples_done / max(elapsed, 1e-6), 2),
    }
    job.event(
        f"Training finished: {samples_done:,} samples graded, "
        f"{summary['samples_per_second']:.2f} samples/s over {_fmt_seconds(elapsed)}",
        data=summary,
    )
    job.update(
        status="succeeded",
        step=total_steps,
        estimated_finish=None,
        model_path=MODEL_DIR,
        result_file=METRICS_FILE,
    )


__all__ = ["group_advantages", "read_prompts", "run_rft"]
