"""Executors: what actually trains and answers for ``fttui serve`` (see ``base.py``).

``get_executor`` picks one by name; ``torch`` is imported lazily so the server starts fast
and works (with ``sim``) where PyTorch is not installed.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from fttui.server.executors.base import Executor

EXECUTOR_NAMES = ("torch", "sim", "auto", "ray")
TORCH_REQUIREMENTS = ("torch", "transformers", "peft")


class ExecutorUnavailable(RuntimeError):
    """The executor asked for cannot run here; the message says what to do instead."""


def torch_missing() -> list[str]:
    """The packages of ``fttui[local]`` that are not installed (checked without importing)."""
    return [name for name in TORCH_REQUIREMENTS if importlib.util.find_spec(name) is None]


def resolve_name(name: str) -> str:
    """``auto`` → ``torch`` when torch, transformers and peft are installed, else ``sim``."""
    if name != "auto":
        return name
    built = importlib.util.find_spec("fttui.server.executors.torch_executor") is not None
    return "torch" if built and not torch_missing() else "sim"


def get_executor(
    name: str,
    *,
    data_dir: str | os.PathLike[str],
    base_models: dict[str, str],
    ray_address: str | None = None,
    storage: str | None = None,
    ray_pending_timeout: float = 600.0,
    storage_options: dict[str, Any] | None = None,
) -> Executor:
    """The executor called ``name`` (``torch``, ``sim``, ``auto`` or ``ray``), ready to serve.

    ``base_models`` maps API names to local weights (``--base-model NAME=PATH``);
    ``ray_address`` and ``storage`` are the ``ray`` executor's cluster and job storage (a
    shared path, or an fsspec URL with its ``storage_options``).
    Raises ``ExecutorUnavailable`` with a one-line remedy when it cannot run here.
    """
    name = resolve_name(name)
    if name == "ray":
        return _ray_executor(
            data_dir, base_models, ray_address, storage, ray_pending_timeout, storage_options
        )
    if name == "sim":
        from fttui.server.executors.sim import SimExecutor

        return SimExecutor(data_dir=Path(data_dir), base_models=base_models)
    if name == "torch":
        missing = torch_missing()
        if missing:
            raise ExecutorUnavailable(
                f"the torch executor needs {', '.join(missing)}: pip install 'fttui[local]', "
                "or run with --executor sim"
            )
        try:
            module = importlib.import_module("fttui.server.executors.torch_executor")
        except ModuleNotFoundError as exc:
            if exc.name != "fttui.server.executors.torch_executor":
                raise ExecutorUnavailable(
                    f"the torch executor could not load ({exc}): pip install 'fttui[local]', "
                    "or run with --executor sim"
                ) from exc
            raise ExecutorUnavailable(
                "the torch executor is not part of this build yet; run with --executor sim"
            ) from exc
        return module.TorchExecutor(data_dir=data_dir, base_models=base_models)
    raise ExecutorUnavailable(f"unknown executor {name!r}: choose torch, sim, auto or ray")


def _ray_executor(
    data_dir: str | os.PathLike[str],
    base_models: dict[str, str],
    address: str | None,
    storage: str | None,
    pending_timeout: float,
    storage_options: dict[str, Any] | None = None,
) -> Executor:
    missing = torch_missing() + [
        n for n in ("ray", "requests") if importlib.util.find_spec(n) is None
    ]
    if missing:
        raise ExecutorUnavailable(
            f"the ray executor needs {', '.join(missing)}: pip install 'fttui[local,ray]'"
        )
    address = address or os.environ.get("RAY_ADDRESS")
    if not address:
        raise ExecutorUnavailable(
            "the ray executor needs the cluster's dashboard address: --ray-address "
            "http://HEAD:8265 (or RAY_ADDRESS)"
        )
    if "://" not in address:
        address = f"http://{address}"
    if not address.startswith(("http://", "https://")):
        raise ExecutorUnavailable(
            f"--ray-address {address}: give the dashboard's http://HOST:PORT (Ray Jobs API), "
            "not a ray:// or GCS address"
        )
    path: Path | str | None = None
    if storage and "://" in storage and not storage.startswith("file://"):
        # an object store: fsspec must know the protocol here (gs:// needs gcsfs...)
        from fttui.server.executors.storage import StorageError, open_store

        try:
            open_store(storage, storage_options)
        except StorageError as exc:
            raise ExecutorUnavailable(f"--storage {exc}") from None
        path = storage
    elif storage_options:
        raise ExecutorUnavailable("--storage-option goes with an object-store --storage URL")
    elif storage:
        storage = storage.removeprefix("file://")
        path = Path(storage).expanduser().resolve()
        try:
            (path / "jobs").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ExecutorUnavailable(
                f"--storage {path}: cannot create it ({exc.strerror or exc})"
            ) from None
    from fttui.server.executors.ray_executor import RayExecutor

    return RayExecutor(
        data_dir=data_dir,
        base_models=base_models,
        address=address,
        storage=path,
        storage_options=storage_options,
        pending_timeout=pending_timeout,
    )


__all__ = ["EXECUTOR_NAMES", "ExecutorUnavailable", "get_executor", "resolve_name", "torch_missing"]
