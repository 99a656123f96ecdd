"""The local trainer: ``python -m fttui.server.trainer SPEC_JSON_PATH``.

It reads a :class:`fttui.server.jobfolder.TrainerSpec`, trains (LoRA with peft, or
full fine-tuning; supervised or DPO) and reports through the job-folder protocol documented
in ``fttui.server.jobfolder``. Modules: ``models`` (base models, GGUF cache),
``data`` (chat-template tokenisation, loss masks, batches), ``evaluate`` (supervised loss
and metrics), ``dpo``, ``loop`` (the training run), ``protocol`` (the old home of ``jobfolder.JobFolder``),
``generate`` (inference for the server, with adapters).

Learning rate: ``BASE_LEARNING_RATE[kind] × learning_rate_multiplier``. OpenAI's "auto"
multipliers are 0.05–0.2, so a long LoRA job trains at 1e-4–4e-4 and a full fine-tune at
1e-5–4e-5, the usual ranges for each. A short LoRA run gets more: at 1e-4 a 12-example set
(48 steps of one example) moved its loss but not its answers — neither the style nor the
stop was learned — while 1e-3 learned both. So the LoRA rate is boosted by
``√(BOOST_STEPS / steps)`` (at most ×``MAX_BOOST``, never past ``MAX_BOOSTED_LORA_LR``, and
never below the plain rate): ≤ 48 steps train at up to 1e-3, ~1,000+ steps get ≤ ×2.2, and
≥ 4,800 steps the plain rate — so large sets stay where they were. Warm-up over the first
5% of steps, then linear decay to ``FINAL_LR_FRACTION`` of the peak (to zero, a short run
spent its last quarter learning next to nothing); AdamW, gradients clipped at 1.0.

This package imports no torch at import time; ``loop`` and ``generate`` do.
"""

from __future__ import annotations

#: the learning rate a ``learning_rate_multiplier`` of 1 stands for
BASE_LEARNING_RATE = {"lora": 2e-3, "full": 2e-4}

#: LoRA settings (overridable through ``spec.options``)
LORA_DEFAULTS = {
    "lora_r": 16,
    "lora_alpha": 32,
    "lora_dropout": 0.0,
    "target_modules": "all-linear",
}

#: spec fields a job's options (metadata ``torch_<name>``) may override
SPEC_OPTIONS = ("precision", "lora", "device")
#: every option the trainer reads (job metadata ``torch_<name>``); here, not in ``loop``, so
#: an executor can check a job's options without importing torch
KNOWN_OPTIONS = frozenset(
    {
        *SPEC_OPTIONS,
        *LORA_DEFAULTS,
        "learning_rate",
        "max_length",
        "micro_batch_tokens",
        "valid_every",
        "threads",
        # reinforcement fine-tuning (the first four from the method's hyperparameters)
        "eval_interval",
        "eval_samples",
        "compute_multiplier",
        "reasoning_effort",
        "rft_max_new_tokens",
    }
)
#: the options the ``ray`` executor reads itself (metadata ``ray_<name>``); the trainer
#: takes them as known (data-parallel runs read ``num_workers``)
RAY_OPTIONS = frozenset({"num_cpus", "num_gpus", "num_workers", "accelerator_type"})

#: runs of this many optimizer steps or more train LoRA at the plain rate (no boost)
BOOST_STEPS = 4800
#: the most a short run's LoRA rate is multiplied by
MAX_BOOST = 10.0
#: the boost never takes a LoRA rate past this (the top of LoRA's usual 1e-4–2e-3)
MAX_BOOSTED_LORA_LR = 1e-3
#: the schedule decays to this fraction of the peak rate, not to zero
FINAL_LR_FRACTION = 0.1


def learning_rate(multiplier: float, lora: bool = True, total_steps: int | None = None) -> float:
    """The peak learning rate for ``multiplier``; for LoRA, boosted when ``total_steps`` is few."""
    plain = BASE_LEARNING_RATE["lora" if lora else "full"] * multiplier
    if not lora or not total_steps:
        return plain
    boost = min(MAX_BOOST, max(1.0, (BOOST_STEPS / total_steps) ** 0.5))
    return max(plain, min(MAX_BOOSTED_LORA_LR, plain * boost))


def lr_factor(done: int, total_steps: int) -> float:
    """The schedule: the fraction of the peak rate for the step after ``done`` steps."""
    warmup = max(1, round(0.05 * total_steps))
    if done < warmup:
        return (done + 1) / warmup
    left = max(0.0, (total_steps - done) / max(1, total_steps - warmup))
    return FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * left
