"""The keymap: binding ids → keys, read from the ``[keymap]`` table of ``config.toml``.

Every ``Binding`` in the app has an ``id``; a config like::

    [keymap]
    "jobs.cancel" = "X"
    "app.quit" = "q,ctrl+c"

remaps them through ``App.set_keymap()``. Unknown ids are reported (not fatal).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from textual.binding import Binding


def load_keymap(path: Path | None = None) -> dict[str, str]:
    """The ``[keymap]`` table of the config (empty when there is none or it is malformed)."""
    try:
        from fttui.config import load_keymap as _load
    except ImportError:  # pragma: no cover - the config module ships with fttui
        return {}
    try:
        keymap = _load(path) if path is not None else _load()
    except Exception:
        return {}
    return {str(k): str(v) for k, v in (keymap or {}).items() if str(v).strip()}


def binding_ids(classes: Iterable[type]) -> dict[str, Binding]:
    """Every binding id declared in ``BINDINGS`` of ``classes`` (and their bases)."""
    found: dict[str, Binding] = {}
    for cls in classes:
        for klass in cls.__mro__:
            for binding in klass.__dict__.get("BINDINGS", []) or []:
                if isinstance(binding, Binding) and binding.id:
                    found.setdefault(binding.id, binding)
    return found


def unknown_ids(keymap: Mapping[str, str], known: Iterable[str]) -> list[str]:
    """Ids in ``keymap`` that no binding of the app declares."""
    known_set = set(known)
    return sorted(k for k in keymap if k not in known_set)
