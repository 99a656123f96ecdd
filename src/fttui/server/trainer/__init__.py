"""The local trainer: ``python -m fttui.server.trainer SPEC_JSON_PATH``.

It reads a :class:`fttui.server.executors.base.TrainerSpec`, trains (LoRA with peft, or
full fine-tuning; supervised or DPO) and reports through the job-folder protocol documented
in ``fttui.server.executors.base``. Modules: ``models`` (base models, GGUF cache),
``data`` (chat-template tokenisation, loss masks, batches), ``evaluate`` (supervised loss
and metrics), ``dpo``, ``loop`` (the training run), ``protocol`` (events/state/control),
``generate`` (inference for the server, with adapters).

Learning rate: ``BASE_LEARNING_RATE[kind] × learning_rate_multiplier``. OpenAI's "auto"
multipliers are 0.05–0.2, so a LoRA job trains at 1e-4–4e-4 and a full fine-tune at
1e-5–4e-5, the usual ranges for each. Warm-up over the first 5% of steps, then linear decay
to zero; AdamW, gradients clipped at 1.0.

This package imports no torch at import time; ``loop`` and ``generate`` do.
"""

from __future__ import annotations

#: the learning rate a ``learning_rate_multiplier`` of 1 stands for
BASE_LEARNING_RATE = {"lora": 2e-3, "full": 2e-4}

#: LoRA settings (overridable through ``spec.options``)
LORA_DEFAULTS = {"lora_r": 16, "lora_alpha": 32, "lora_dropout": 0.0, "target_modules": "all-linear"}


def learning_rate(multiplier: float, lora: bool = True) -> float:
    return BASE_LEARNING_RATE["lora" if lora else "full"] * multiplier
