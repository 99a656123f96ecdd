"""Models: the executor's base models, fine-tuned models and checkpoints (usable as models)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fttui.server.errors import ApiError, not_found
from fttui.server.executors.base import Executor
from fttui.server.store import Store, dumps, from_stored, loads

ORG_ID = "org-fttui"  #: organization_id of every job, owned_by of fine-tuned models


@dataclass
class ResolvedModel:
    """What a model id stands for, for generation and for continued fine-tuning."""

    id: str
    kind: str  #: base, fine-tuned or checkpoint
    base_model: str
    model_path: str | None = None
    adapter_path: str | None = None
    executor: str = ""


class ModelRegistry:
    """Model ids and what they resolve to."""

    def __init__(self, store: Store, executor: Executor, jobs_dir: Path) -> None:
        self.store, self.executor, self.jobs_dir = store, executor, jobs_dir
        self._base = {info.id: info for info in executor.base_models()}

    def base_ids(self) -> list[str]:
        return list(self._base)

    def is_base(self, model: str) -> bool:
        return model in self._base

    def base_path(self, model: str) -> str | None:
        info = self._base.get(model)
        return info.path if info else None

    def _base_obj(self, model: str) -> dict[str, Any]:
        info = self._base[model]
        return {
            "id": info.id,
            "object": "model",
            "created": info.created,
            "owned_by": info.owned_by,
            # OpenAI's Model object: null while no shutdown is announced (never, here)
            "shutdown_date": None,
            # ours, beyond OpenAI's object: what a job on it may use (a client refuses the
            # others before it uploads anything)
            "fine_tuning_methods": list(info.fine_tuning_methods),
        }

    def methods(self, base_model: str) -> tuple[str, ...]:
        """The fine-tuning methods a job on ``base_model`` may use (none: not served here)."""
        info = self._base.get(base_model)
        return info.fine_tuning_methods if info else ()

    def able(self, method: str) -> list[str]:
        """The base models a ``method`` job may fine-tune."""
        return [m for m, info in self._base.items() if method in info.fine_tuning_methods]

    def _tuned_methods(self, base_model: str, executor: str) -> list[str]:
        """A fine-tuned model's (or checkpoint's) methods, to continue from it: its base's,
        when this server's executor trained it (another's cannot be continued here)."""
        return list(self.methods(base_model)) if executor == self.executor.name else []

    def find_tuned(self, model: str) -> ResolvedModel | None:
        """A fine-tuned model or a checkpoint, or None."""
        row = self.store.one("SELECT base_model, executor, path FROM models WHERE id = ?", (model,))
        if row is not None:
            return ResolvedModel(
                model,
                "fine-tuned",
                row[0],
                self.base_path(row[0]),
                from_stored(self.jobs_dir.parent, row[2]),
                row[1],
            )
        row = self.store.one(
            "SELECT c.path, j.internal FROM checkpoints c JOIN jobs j ON j.id = c.job_id "
            "WHERE c.model = ?",
            (model,),
        )
        if row is not None:
            internal = loads(row[1])
            base = internal["spec"]["base_model"]
            return ResolvedModel(
                model,
                "checkpoint",
                base,
                self.base_path(base),
                from_stored(self.jobs_dir.parent, row[0]),
                internal["executor"],
            )
        return None

    def resolve(self, model: str) -> ResolvedModel:
        """What ``model`` stands for, or a 404 in OpenAI's words."""
        if model in self._base:
            return ResolvedModel(
                model, "base", model, self.base_path(model), None, self.executor.name
            )
        found = self.find_tuned(model)
        if found is None:
            raise not_found(
                f"The model `{model}` does not exist or you do not have access to it.",
                param="model",
                code="model_not_found",
            )
        return found

    def list_json(self) -> bytes:
        objs = [dumps(self._base_obj(m)) for m in self._base]
        for obj, base, executor in self.store.all(
            "SELECT obj, base_model, executor FROM models ORDER BY seq DESC"
        ):
            objs.append(self._with_methods_json(obj, base, executor))
        return ('{"object":"list","data":[' + ",".join(objs) + "]}").encode()

    def retrieve(self, model: str) -> dict[str, Any] | bytes:
        if model in self._base:
            return self._base_obj(model)
        row = self.store.one("SELECT obj, base_model, executor FROM models WHERE id = ?", (model,))
        if row is not None:
            return self._with_methods_json(*row).encode()
        row = self.store.one(
            "SELECT json_extract(c.obj, '$.created_at'), j.internal FROM checkpoints c "
            "JOIN jobs j ON j.id = c.job_id WHERE c.model = ?",
            (model,),
        )
        if row is not None:
            internal = loads(row[1])
            checkpoint = {
                "id": model,
                "object": "model",
                "created": row[0],
                "owned_by": ORG_ID,
                "shutdown_date": None,
            }
            return self._with_methods(
                checkpoint, internal["spec"]["base_model"], internal["executor"]
            )
        raise not_found(
            f"The model `{model}` does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )

    def _with_methods(self, obj: dict[str, Any], base: str, executor: str) -> dict[str, Any]:
        # computed when served, not stored: rows from before the field get it too. None
        # (its base no longer served, another executor trained it): the field is left out,
        # so a client leaves it to the create, whose answer says why (not "no fine-tuning")
        methods = self._tuned_methods(base, executor)
        return {**obj, "fine_tuning_methods": methods} if methods else obj

    def _with_methods_json(self, obj: str, base: str, executor: str) -> str:
        """``_with_methods`` on a stored object's JSON text, spliced in rather than parsed
        and written again (a list of thousands of models is served from the rows)."""
        methods = self._tuned_methods(base, executor)
        if not methods:
            return obj
        return obj[:-1] + ',"fine_tuning_methods":' + dumps(methods) + "}"

    def add_tuned(
        self,
        conn: Any,
        model: str,
        *,
        job_id: str,
        base_model: str,
        executor: str,
        path: str,
        created: int,
    ) -> None:
        obj = {
            "id": model,
            "object": "model",
            "created": created,
            "owned_by": ORG_ID,
            "shutdown_date": None,
        }
        conn.execute(
            "INSERT OR REPLACE INTO models (id, job_id, base_model, executor, path, obj) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (model, job_id, base_model, executor, path, dumps(obj)),
        )

    def delete(self, model: str) -> dict[str, Any]:
        if model in self._base:
            raise ApiError(
                403,
                f"Base model {model} cannot be deleted; only fine-tuned models can.",
                param="model",
                code="model_not_deletable",
                type="invalid_request_error",
            )
        row = self.store.one("SELECT path FROM models WHERE id = ?", (model,))
        if row is None:
            raise not_found(
                f"The model `{model}` does not exist or you do not have access to it.",
                param="model",
                code="model_not_found",
            )
        with self.store.tx() as conn:
            self.store.delete_row(conn, "models", model)
        weights = Path(from_stored(self.jobs_dir.parent, row[0]) or "")
        if weights.is_relative_to(self.jobs_dir) and weights.name == "model":
            shutil.rmtree(weights, ignore_errors=True)
        return {"id": model, "object": "model", "deleted": True}
