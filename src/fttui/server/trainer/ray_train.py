"""``python -m fttui.server.trainer.ray_train SPEC``: one job, data-parallel under Ray Train.

The ``ray`` executor's entrypoint when a job asks for ``ray_num_workers`` > 1. It starts a
``TorchTrainer`` (``ScalingConfig``: that many workers, ``ray_num_cpus`` / ``ray_num_gpus``
each; gloo on CPUs, NCCL on GPUs) whose workers each run the ordinary trainer
(:class:`fttui.server.trainer.loop.Run`) with three changes:

- each optimizer step takes the job's whole batch (the ``batch_size`` the API reports is
  the *global* batch): worker ``r`` of ``n`` computes the gradient of its share
  ``batch[r::n]``, normalised by the whole batch's trained tokens, and the gradients are
  summed across workers — the same gradient one worker would compute, so the loss curve
  matches a single-worker run within floating-point noise;
- rank 0 alone writes the job folder (events, ``state.json``, metrics, checkpoints and the
  model); the others keep the same state in memory;
- ``control.json`` is read by rank 0 and its answer shared, so every worker stops at the
  same step (a worker that stopped alone would leave the others waiting in a collective).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from fttui.server.jobfolder import METRICS_HEADER, RESUME_DIR, JobFolder, TrainerSpec

_ACTIONS = (None, "cancel", "pause")


class QuietFolder(JobFolder):
    """The job folder as a worker other than rank 0 sees it: state in memory, no writes."""

    def event(self, message: str, **kwargs: Any) -> None:
        pass

    def update(self, **changes: Any) -> None:
        for key, value in changes.items():
            setattr(self.state, key, value)

    def clear_control(self) -> None:
        pass

    def start_metrics(self, up_to_step: int, header: tuple[str, ...] = METRICS_HEADER) -> None:
        pass

    def add_metrics_row(
        self, metrics: dict[str, Any], header: tuple[str, ...] | None = None
    ) -> None:
        pass


def _worker(config: dict[str, Any]) -> None:
    """One Ray Train worker: the trainer's run, on its share of every batch."""
    import ray.train
    import torch
    import torch.distributed as dist

    from fttui.server.trainer import loop
    from fttui.server.trainer.data import micro_batches

    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    spec = TrainerSpec.load(config["spec"])
    folder = JobFolder(spec.output_dir) if rank == 0 else QuietFolder(spec.output_dir)

    class DataParallelRun(loop.Run):
        def check_control(self) -> None:
            code = _ACTIONS.index(self.job.control()) if rank == 0 else 0
            flag = torch.tensor([code])
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            action = _ACTIONS[int(flag.item())]
            if action is not None:  # None: go on
                raise loop.Stop(action)

        def _save(self, *args: Any, **kwargs: Any) -> None:
            if rank == 0:
                super()._save(*args, **kwargs)

        # the folder is rank 0's: another rank pruning old saves could delete the one
        # state.json still names before rank 0 has written the new one
        def save_checkpoint(self, *args: Any, **kwargs: Any) -> None:
            if rank == 0:
                super().save_checkpoint(*args, **kwargs)
            dist.barrier()  # nobody runs ahead while rank 0 writes

        def save_resume_point(self, model, tokenizer, step, optimizer, scheduler) -> str:
            if rank == 0:
                return super().save_resume_point(model, tokenizer, step, optimizer, scheduler)
            return f"{RESUME_DIR}/step-{step}"

        def _train_step(self, model, train, batch, optimizer, scheduler, params):
            self.check_control()
            weight = max(train.weight(batch), 1.0)  # the whole batch's tokens
            share = list(batch)[rank::world]
            loss_sum, count, correct = 0.0, 0, 0
            if share:
                for micro in micro_batches(train.lengths, share, self.micro_tokens):
                    loss, n, right = train.forward(model, micro)
                    (loss / weight).backward()
                    loss_sum += float(loss.detach())
                    count += n
                    correct += right
            grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
            flat = torch.cat([g.reshape(-1) for g in grads])
            dist.all_reduce(flat)  # one collective per step: the summed gradient
            offset = 0
            for p, g in zip(params, grads, strict=True):
                p.grad = flat[offset : offset + g.numel()].view_as(p).to(p.dtype)
                offset += g.numel()
            stats = torch.tensor([loss_sum, count, correct], dtype=torch.float64)
            dist.all_reduce(stats)
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            total = max(stats[1].item(), 1.0)
            return stats[0].item() / total, stats[2].item() / total

    run = DataParallelRun(spec, folder)
    if rank == 0:
        folder.event(f"Training data-parallel on {world} Ray Train workers (rank 0 reports)")
    code = loop.execute(run)
    if code:
        raise RuntimeError(f"worker {rank}: the trainer failed (see the job's state)")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m fttui.server.trainer.ray_train SPEC_JSON_PATH", file=sys.stderr)
        return 2
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    spec = TrainerSpec.load(argv[0])
    opts = spec.options or {}
    workers = int(opts.get("num_workers", 2))
    cpus, gpus = float(opts.get("num_cpus", 1)), float(opts.get("num_gpus", 0))
    resources = {"CPU": cpus, **({"GPU": gpus} if gpus else {})}
    scaling = ScalingConfig(
        num_workers=workers,
        use_gpu=gpus > 0,
        resources_per_worker=resources,
        accelerator_type=opts.get("accelerator_type"),
    )
    trainer = TorchTrainer(
        _worker,
        train_loop_config={"spec": str(Path(argv[0]).resolve())},
        scaling_config=scaling,
        run_config=RunConfig(name=spec.job_id, storage_path=str(Path(spec.output_dir) / "ray")),
    )
    try:
        trainer.fit()
    except Exception as exc:  # a worker died, or the group could not be placed
        job = JobFolder(spec.output_dir)
        if job.state.status not in ("succeeded", "failed", "cancelled", "paused"):
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            job.fail("trainer_error", f"Ray Train failed: {first[:500]}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
