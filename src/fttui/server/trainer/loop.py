"""One training run: the body of ``python -m fttui.server.trainer SPEC``.

Order of work: load the base model (converting a GGUF once), tokenise the files, measure
this machine's speed on the first batch and say how long the job will take, then train
epoch by epoch — metrics every step, a validation batch every few steps, full validation
and a checkpoint at each epoch end — checking ``control.json`` between micro-batches so
cancel and pause take effect within one of them.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import torch

from fttui.server.jobfolder import (
    CHECKPOINTS_DIR,
    KEEP_CHECKPOINTS,
    METRICS_FILE,
    MODEL_DIR,
    RESUME_DIR,
    JobFolder,
    TrainerSpec,
)
from fttui.server.trainer import (
    KNOWN_OPTIONS,
    LORA_DEFAULTS,
    RAY_OPTIONS,
    SPEC_OPTIONS,
    learning_rate,
    lr_factor,
)
from fttui.server.trainer.data import (
    DataError,
    encode_file,
    epoch_order,
    micro_batches,
    steps_per_epoch,
)
from fttui.server.trainer.dpo import Dpo
from fttui.server.trainer.evaluate import Supervised, evaluate
from fttui.server.trainer.weights import (
    ModelUnavailable,
    is_adapter,
    load_model,
    load_tokenizer,
    local_weights,
    pick_device,
    resolve,
)

#: padded tokens per forward pass (option ``micro_batch_tokens``); batches are split into
#: micro-batches of this size and their gradients accumulated
MICRO_BATCH_TOKENS = {"cpu": 2048, "gpu": 16384}
TRAINER_STATE = "trainer_state.pt"
MODEL_INFO = "fttui_model.json"


class Stop(Exception):
    """The server asked the job to stop (``action`` is ``cancel`` or ``pause``)."""

    def __init__(self, action: str):
        super().__init__(action)
        self.action = action


def _fmt_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Run:
    """A training run for one spec, reporting into its job folder."""

    def __init__(self, spec: TrainerSpec, job: JobFolder):
        self.spec = spec
        self.job = job
        opts = spec.options or {}
        self.opts = opts
        for key in SPEC_OPTIONS:  # job metadata torch_precision=bf16 etc. override the spec
            if key in opts:
                setattr(spec, key, opts[key])
        self.max_length = int(opts.get("max_length", 2048))

    # -- control ----------------------------------------------------------------------------
    def check_control(self) -> None:
        action = self.job.control()
        if action:
            raise Stop(action)

    # -- setup ------------------------------------------------------------------------------
    def _resume_dir(self) -> Path | None:
        if not self.spec.resume_from:
            return None
        wanted = self.spec.resume_from
        # a trainer killed mid-save can leave ``wanted`` missing or incomplete: fall back to
        # the newest complete epoch checkpoint rather than throw all training away
        for rel in [wanted, *(c["path"] for c in reversed(self.job.state.checkpoints))]:
            path = Path(rel)
            path = path if path.is_absolute() else self.job.path / path
            if (path / TRAINER_STATE).is_file():
                if rel != wanted:
                    self.job.event(
                        f"No complete checkpoint to resume from at {wanted}; "
                        f"resuming from {rel} instead",
                        level="warn",
                    )
                    self.job.update(resume_checkpoint=rel)
                return path
        self.job.event(f"No checkpoint to resume from at {wanted}; starting over", level="warn")
        return None

    def _build_model(self, weights: str, device: str, resume: Path | None):
        from peft import LoraConfig, PeftModel, get_peft_model

        spec = self.spec
        init = spec.init_adapter
        if not spec.lora and resume is not None:
            base_path = str(resume)  # a full fine-tune checkpoint is a whole model
        elif init and not is_adapter(init):
            base_path = init
        else:
            base_path = weights
        model = load_model(base_path, precision=spec.precision, device=device)
        model.config.use_cache = False
        if spec.lora:
            if resume is not None:
                model = PeftModel.from_pretrained(model, str(resume), is_trainable=True)
            elif init and is_adapter(init):
                model = PeftModel.from_pretrained(model, init, is_trainable=True)
            else:
                cfg = {
                    **LORA_DEFAULTS,
                    **{k: self.opts[k] for k in LORA_DEFAULTS if k in self.opts},
                }
                model = get_peft_model(
                    model,
                    LoraConfig(
                        r=int(cfg["lora_r"]),
                        lora_alpha=int(cfg["lora_alpha"]),
                        lora_dropout=float(cfg["lora_dropout"]),
                        target_modules=cfg["target_modules"],
                        task_type="CAUSAL_LM",
                    ),
                )
        elif init and is_adapter(init) and resume is None:
            model = PeftModel.from_pretrained(model, init).merge_and_unload()
        if not spec.lora:
            for p in model.parameters():
                p.requires_grad_(True)
        model.train()
        return model

    def _objectives(self, tokenizer, device: str):
        spec = self.spec
        pad = tokenizer.pad_token_id
        make = (
            (lambda ex: Dpo(ex, pad, device, spec.beta))
            if spec.method == "dpo"
            else (lambda ex: Supervised(ex, pad, device))
        )
        try:
            train = make(
                encode_file(
                    spec.training_file, tokenizer, method=spec.method, max_length=self.max_length
                )
            )
        except DataError as exc:
            raise DataError(f"training file: {exc}") from None
        valid = None
        if spec.validation_file:
            try:
                valid = make(
                    encode_file(
                        spec.validation_file,
                        tokenizer,
                        method=spec.method,
                        max_length=self.max_length,
                    )
                )
            except DataError as exc:
                raise DataError(f"validation file: {exc}") from None
        return train, valid

    # -- checkpoints ------------------------------------------------------------------------
    def _save(
        self,
        model,
        tokenizer,
        folder: Path,
        extra: dict[str, Any] | None = None,
        trainer_state: dict[str, Any] | None = None,
    ) -> None:
        """Write ``folder`` whole or not at all: a kill mid-save leaves only a temp folder."""
        tmp = folder.with_name(f".{folder.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp)
        if not self.spec.lora:
            tokenizer.save_pretrained(tmp)
        info = {
            "base_model": self.spec.base_model,
            "lora": self.spec.lora,
            "method": self.spec.method,
            **(extra or {}),
        }
        (tmp / MODEL_INFO).write_text(json.dumps(info, indent=2))
        if trainer_state is not None:
            torch.save(trainer_state, tmp / TRAINER_STATE)
        # a folder cannot be renamed onto a non-empty one: move the old one aside first
        # (not rmtree it, which would leave nothing for a long time if killed meanwhile)
        old = folder.with_name(f".{folder.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)

    def _trainer_state(self, step: int, optimizer, scheduler) -> dict[str, Any]:
        state: dict[str, Any] = {
            "step": step,
            "trained_tokens": self.job.state.trained_tokens,
            "scheduler": scheduler.state_dict(),
            "rng": torch.get_rng_state(),
        }
        if self.spec.lora:  # a full model's optimizer state is twice the model: weights only
            state["optimizer"] = optimizer.state_dict()
        return state

    def save_checkpoint(self, model, tokenizer, step, metrics, optimizer, scheduler) -> None:
        rel = f"{CHECKPOINTS_DIR}/step-{step}"
        folder = self.job.path / rel
        folder.parent.mkdir(parents=True, exist_ok=True)
        self._save(
            model,
            tokenizer,
            folder,
            {"step": step, "metrics": metrics},
            self._trainer_state(step, optimizer, scheduler),
        )
        kept = [c for c in self.job.state.checkpoints if c["step"] != step]
        kept.append({"step": step, "path": rel, "metrics": metrics})
        self.job.update(checkpoints=kept[-KEEP_CHECKPOINTS:], resume_checkpoint=rel)
        # only once state.json no longer names them
        for old in kept[:-KEEP_CHECKPOINTS]:
            shutil.rmtree(self.job.path / old["path"], ignore_errors=True)
        self.job.event(f"Checkpoint created at step {step}", data={"step": step})

    def save_resume_point(self, model, tokenizer, step, optimizer, scheduler) -> str:
        rel = f"{RESUME_DIR}/step-{step}"
        folder = self.job.path / rel
        folder.parent.mkdir(parents=True, exist_ok=True)
        self._save(
            model,
            tokenizer,
            folder,
            {"step": step},
            self._trainer_state(step, optimizer, scheduler),
        )
        # older resume points go only once state.json names the new one: a kill before
        # then must still find the one it names
        self.job.update(resume_checkpoint=rel)
        for old in folder.parent.iterdir():
            if old.name != folder.name:
                shutil.rmtree(old, ignore_errors=True)
        return rel

    def optimizer_from(self, model, total_steps: int, resume: Path | None):
        """The trainable parameters, AdamW and the schedule for ``total_steps``, and the step
        to start from: restored from ``resume`` (optimizer, schedule, RNG, trained tokens,
        the checkpoints up to it), else a fresh start that clears the job's old results.
        Supervised, DPO and RFT runs share it."""
        job = self.job
        # the rate depends on the run's length: a short LoRA run needs a higher one to learn
        self.lr = float(
            self.opts.get("learning_rate")
            or learning_rate(self.spec.learning_rate_multiplier, self.spec.lora, total_steps)
        )
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=self.lr, weight_decay=0.0)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda done: lr_factor(done, total_steps)
        )
        step = 0
        if resume is not None:
            state = torch.load(resume / TRAINER_STATE, weights_only=False)
            step = int(state["step"])
            if "optimizer" in state:
                optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            torch.set_rng_state(state["rng"])
            job.update(
                trained_tokens=int(state["trained_tokens"]),
                checkpoints=[c for c in job.state.checkpoints if c["step"] <= step],
            )
        else:
            job.update(
                trained_tokens=0,
                checkpoints=[],
                resume_checkpoint=None,
                result_file=None,
                model_path=None,
            )
        return params, optimizer, scheduler, step

    # -- the run ----------------------------------------------------------------------------
    def run(self) -> None:
        spec, job = self.spec, self.job
        torch.set_flush_denormal(True)
        if self.opts.get("threads"):
            torch.set_num_threads(int(self.opts["threads"]))
        torch.manual_seed(spec.seed)
        job.update(status="running", error=None)
        if unknown := sorted(set(self.opts) - KNOWN_OPTIONS - RAY_OPTIONS):
            job.event(
                f"Ignoring unknown options: {', '.join('torch_' + k for k in unknown)}",
                level="warn",
            )
        resume = self._resume_dir()
        device = pick_device(spec.device)
        # small micro-batches on a CPU keep cancel/pause within seconds; big ones feed a GPU
        self.micro_tokens = int(
            self.opts.get("micro_batch_tokens")
            or MICRO_BATCH_TOKENS["cpu" if device == "cpu" else "gpu"]
        )

        source = resolve(spec.base_model, spec.model_path)
        job.event(
            f"Loading base model {spec.base_model}"
            + (f" to resume from {resume.relative_to(job.path)}" if resume else "")
        )
        weights = local_weights(source, log=job.event)
        self.check_control()
        tokenizer = load_tokenizer(weights)
        if spec.method == "reinforcement":
            from fttui.server.trainer.grpo import run_rft

            run_rft(self, tokenizer, weights, device, resume)
            return
        train, valid = self._objectives(tokenizer, device)
        model = self._build_model(weights, device, resume)
        self.check_control()

        n_epochs, batch_size = spec.n_epochs, min(spec.batch_size, len(train))
        spe = steps_per_epoch(len(train), batch_size)
        total_steps = n_epochs * spe
        epoch_tokens = sum(train.lengths.values())
        total_tokens = n_epochs * epoch_tokens
        params, optimizer, scheduler, step = self.optimizer_from(model, total_steps, resume)
        job.start_metrics(step)
        job.update(step=step, total_steps=total_steps)
        n_valid = f" and {len(valid)} validation examples" if valid else ""
        job.event(
            f"Tokenised {len(train)} training examples ({epoch_tokens:,} tokens){n_valid}",
            data={"examples": len(train), "tokens_per_epoch": epoch_tokens},
        )

        if isinstance(train, Dpo):
            job.event("Computing the reference model's log-probabilities for DPO")
            train.compute_reference(model, job.path / "dpo_reference_train.pt", self.micro_tokens)
            if valid is not None:
                valid.compute_reference(
                    model, job.path / "dpo_reference_valid.pt", self.micro_tokens
                )

        rate = self._calibrate(model, train, epoch_order(len(train), batch_size, spec.seed, 0)[0])
        remaining = total_tokens - job.state.trained_tokens
        expected = remaining / rate
        kind = "LoRA" if spec.lora else "full"
        left = f" ({remaining:,} tokens still to go)" if resume is not None else ""
        job.event(
            f"This job will train {total_tokens:,} tokens ({n_epochs} epoch"
            f"{'s' if n_epochs > 1 else ''} × {epoch_tokens:,}) "
            f"in {total_steps} steps{left}, {kind} {spec.method}, lr {self.lr:.2g}, "
            f"{spec.precision} on {device} ({torch.get_num_threads()} threads): about "
            f"{rate:,.0f} tokens/s here, so about {_fmt_seconds(expected)}",
            data={
                "trained_tokens": total_tokens,
                "total_steps": total_steps,
                "tokens_per_second": round(rate, 1),
                "expected_seconds": round(expected, 1),
                "device": device,
                "learning_rate": self.lr,
            },
        )
        job.update(estimated_finish=int(time.time() + expected))
        if resume is not None:  # the server announces a fresh start itself
            job.event(f"Fine-tuning resumed at step {step}")

        try:
            self._train(
                model,
                tokenizer,
                train,
                valid,
                optimizer,
                scheduler,
                params,
                step=step,
                batch_size=batch_size,
                spe=spe,
                total_steps=total_steps,
                total_tokens=total_tokens,
            )
        except Stop as stop:
            self._stopped(stop.action, model, tokenizer, optimizer, scheduler)
            return

        self._save(
            model, tokenizer, job.path / MODEL_DIR, {"fine_tuned_model": spec.fine_tuned_model}
        )
        summary = self.summary
        job.event(
            f"Training finished: {summary['trained_tokens']:,} tokens, "
            f"{summary['tokens_per_second']:,.0f} tokens/s over "
            f"{_fmt_seconds(summary['train_seconds'])} of training",
            data=summary,
        )
        job.update(
            status="succeeded",
            step=total_steps,
            estimated_finish=None,
            model_path=MODEL_DIR,
            result_file=METRICS_FILE,
        )

    def _calibrate(self, model, train, first_batch: list[int]) -> float:
        """Tokens per second of a forward+backward pass on this machine (no weight update)."""
        micro = micro_batches(train.lengths, first_batch, self.micro_tokens)[0]
        tokens = sum(train.lengths[i] for i in micro)
        best = float("inf")
        sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
        for _ in range(2):
            started = time.perf_counter()
            loss, n, _ = train.forward(model, micro)
            (loss / max(n, 1)).backward()
            sync()
            best = min(best, time.perf_counter() - started)
            model.zero_grad(set_to_none=True)
            # the first pass pays one-off costs (allocations, kernel choice): on a busy CPU
            # it ran 3× slower than the steps after it, so measure twice unless one pass is
            # already so slow that another would hold the job up
            if best > 20:
                break
        return tokens / max(best, 1e-6)

    def _train(
        self,
        model,
        tokenizer,
        train,
        valid,
        optimizer,
        scheduler,
        params,
        *,
        step,
        batch_size,
        spe,
        total_steps,
        total_tokens,
    ) -> None:
        spec, job = self.spec, self.job
        valid_every = int(self.opts.get("valid_every") or max(1, total_steps // 20))
        valid_cursor = 0
        started, tokens_at_start = time.perf_counter(), job.state.trained_tokens
        self.step = step
        for epoch in range(step // spe, spec.n_epochs):
            batches = epoch_order(len(train), batch_size, spec.seed, epoch)
            for batch in batches[step - epoch * spe :]:
                loss, acc = self._train_step(model, train, batch, optimizer, scheduler, params)
                step += 1
                self.step = step
                metrics: dict[str, Any] = {
                    "step": step,
                    "total_steps": total_steps,
                    "train_loss": loss,
                    "train_mean_token_accuracy": acc,
                }
                if valid is not None and (step % valid_every == 0 or step % spe == 0):
                    idx = [
                        (valid_cursor + k) % len(valid) for k in range(min(batch_size, len(valid)))
                    ]
                    valid_cursor = (valid_cursor + len(idx)) % len(valid)
                    metrics["valid_loss"], metrics["valid_mean_token_accuracy"] = evaluate(
                        valid, model, idx, self.micro_tokens
                    )
                epoch_end = step % spe == 0
                if epoch_end and valid is not None:
                    metrics["full_valid_loss"], metrics["full_valid_mean_token_accuracy"] = (
                        evaluate(valid, model, None, self.micro_tokens)
                    )
                trained = job.state.trained_tokens + sum(train.lengths[i] for i in batch)
                elapsed = time.perf_counter() - started
                rate = (trained - tokens_at_start) / max(elapsed, 1e-6)
                job.add_metrics_row(metrics)
                job.event(
                    self._step_message(metrics),
                    type="metrics",
                    data={
                        k: (round(v, 6) if isinstance(v, float) else v) for k, v in metrics.items()
                    },
                )
                job.update(
                    step=step,
                    trained_tokens=trained,
                    estimated_finish=int(time.time() + (total_tokens - trained) / max(rate, 1e-6)),
                )
                if epoch_end:
                    ckpt = {k: v for k, v in metrics.items() if k != "total_steps"}
                    self.save_checkpoint(model, tokenizer, step, ckpt, optimizer, scheduler)
        elapsed = time.perf_counter() - started
        trained = job.state.trained_tokens - tokens_at_start
        self.summary = {
            "trained_tokens": job.state.trained_tokens,
            "train_seconds": round(elapsed, 3),
            "tokens_per_second": round(trained / max(elapsed, 1e-6), 1),
        }

    def _train_step(self, model, train, batch, optimizer, scheduler, params) -> tuple[float, float]:
        weight = max(train.weight(batch), 1.0)
        loss_sum, count, correct = 0.0, 0, 0
        for micro in micro_batches(train.lengths, batch, self.micro_tokens):
            if action := self.job.control():
                optimizer.zero_grad(set_to_none=True)
                raise Stop(action)
            loss, n, right = train.forward(model, micro)
            (loss / weight).backward()
            loss_sum += float(loss.detach())
            count += n
            correct += right
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        return loss_sum / max(count, 1), correct / max(count, 1)

    @staticmethod
    def _step_message(m: dict[str, Any]) -> str:
        text = f"Step {m['step']}/{m['total_steps']}: training loss={m['train_loss']:.4f}"
        if "valid_loss" in m:
            text += f", validation loss={m['valid_loss']:.4f}"
        if "full_valid_loss" in m:
            text += f", full validation loss={m['full_valid_loss']:.4f}"
        return text

    def _stopped(self, action: str, model, tokenizer, optimizer, scheduler) -> None:
        job, step = self.job, getattr(self, "step", self.job.state.step)
        if action == "pause":
            rel = self.save_resume_point(model, tokenizer, step, optimizer, scheduler)
            job.event(f"Training paused at step {step}; it will resume from there")
            job.update(status="paused", resume_checkpoint=rel, estimated_finish=None)
        else:
            job.event(f"Training cancelled at step {step}")
            job.update(status="cancelled", estimated_finish=None)
        job.clear_control()


def main(argv: list[str]) -> int:
    """Run the spec at ``argv[0]``; the exit code is 0 unless the job failed."""
    if len(argv) != 1:
        print("usage: python -m fttui.server.trainer SPEC_JSON_PATH", file=sys.stderr)
        return 2
    spec = TrainerSpec.load(argv[0])
    # the raw log's first line (`fttui jobs logs`): which job, and where it trains
    print(
        f"fttui trainer: job {spec.job_id}, {spec.method} on {spec.base_model}, "
        f"folder {spec.output_dir}"
        + (f", resuming from {spec.resume_from}" if spec.resume_from else ""),
        flush=True,
    )
    return execute(Run(spec, JobFolder(spec.output_dir)))


def execute(run: Run) -> int:
    """Train ``run``, reporting how it ended in its job folder; 0 unless the job failed."""
    job = run.job
    try:
        run.run()
        return 0
    except Stop as stop:  # asked to stop before training began: nothing to save yet
        job.event(
            f"Job {'paused' if stop.action == 'pause' else 'cancelled'} before training began"
        )
        job.update(
            status="paused" if stop.action == "pause" else "cancelled", estimated_finish=None
        )
        job.clear_control()
        return 0
    except DataError as exc:
        job.fail("invalid_training_file", f"The training data cannot be used: {exc}")
    except ModelUnavailable as exc:
        job.fail("model_unavailable", str(exc))
    except torch.OutOfMemoryError as exc:
        job.fail(
            "out_of_memory",
            f"Out of memory: {str(exc).splitlines()[0]}. Try a smaller "
            f"batch_size or micro_batch_tokens.",
        )
    except Exception as exc:  # a bug or a broken model: report it and fail the job
        traceback.print_exc()
        job.fail("trainer_error", f"The trainer failed: {type(exc).__name__}: {exc}")
    return 1
