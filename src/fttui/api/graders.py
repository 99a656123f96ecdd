"""Graders: check one (``POST /v1/fine_tuning/alpha/graders/validate``) before a
reinforcement fine-tuning job uses it.

``validate_grader(client, grader)`` asks the provider; a provider without the endpoint
(a 404, 405 or 501) gets the same rules locally, from :mod:`fttui.evals` — so the TUI's
Validate and a refused create say the same thing wherever the job goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from fttui.api.errors import ApiError, friendly

#: statuses that mean "this provider has no graders endpoint", not "this grader is bad"
NO_ENDPOINT = frozenset({404, 405, 501})


@dataclass(frozen=True)
class GraderCheck:
    """What a grader check found: ``errors`` are ``"path: what is wrong"`` lines."""

    ok: bool
    checked_by: Literal["provider", "local"]
    errors: list[str] = field(default_factory=list)
    #: the first bad field's JSON path (``grader.operation``), when one is known
    param: str | None = None


def local_check(grader: Any) -> GraderCheck:
    """The grader checked by :mod:`fttui.evals` (the rules ``fttui serve`` uses)."""
    from fttui.evals import validate

    errors = validate(grader)
    param = errors[0].split(":", 1)[0] if errors else None
    return GraderCheck(ok=not errors, checked_by="local", errors=errors, param=param)


def _refusal(exc: ApiError) -> list[str]:
    """The provider's reasons, one a line (fttui serve joins them with ``; ``)."""
    text = exc.message.split(": ", 1)[1] if exc.message.startswith("request refused") else ""
    text = text or exc.message
    text = text.removeprefix("Invalid grader: ")
    return [part.strip() for part in text.split("; ") if part.strip()]


def validate_grader(client: Any, grader: Any) -> GraderCheck:
    """Ask the provider whether ``grader`` is valid (locally when it has no endpoint).

    Raises :class:`ApiError` for what says nothing about the grader (no connection, a bad
    key, a 5xx): the caller shows that, and the grader is neither passed nor failed.
    """
    if not isinstance(grader, dict) or not isinstance(grader.get("type"), str):
        return GraderCheck(
            ok=False,
            checked_by="local",
            errors=["grader: must be a JSON object with a `type` (string_check, …)"],
            param="grader",
        )
    try:
        client.fine_tuning.alpha.graders.validate(grader=grader)
    except Exception as exc:
        err = friendly(exc)
        if err.status in NO_ENDPOINT or err.kind == "not_found":
            return local_check(grader)
        if err.kind == "bad_request":
            param = err.param or None
            return GraderCheck(ok=False, checked_by="provider", errors=_refusal(err), param=param)
        raise err from None
    return GraderCheck(ok=True, checked_by="provider")


__all__ = ["GraderCheck", "local_check", "validate_grader"]
