"""The checks of images in chat content parts (``image_url``: https or a base64 data URL
of an RGB/RGBA JPEG, PNG or WEBP of at most 10 MB)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fttui.datasets.checks.common import (
    IMAGE_DETAIL,
    IMAGE_MIME,
    IMAGE_MODE_NAMES,
    JPEG_HEADER_CHARS,
    MAX_IMAGE_BYTES,
    TOKENS_PER_IMAGE,
    CheckerBase,
    Tokens,
)
from fttui.datasets.images import RGB_MODES, image_format, image_mode


class ImageChecks(CheckerBase):
    """Content parts (text and images) of a chat message."""

    def _parts(
        self,
        line: int,
        where: str,
        role: Any,
        parts: list[Any],
        tokens: Tokens,
        trained: bool,
        has_call: bool,
    ) -> int:
        """Content parts (text / image_url); returns the number of images."""
        if not parts and not has_call:
            self._err(
                "missing_content", line, f"{where} ({role}) has an empty list of content parts"
            )
        images = 0
        for j, part in enumerate(parts, 1):
            pwhere = f"{where} part {j}"
            ptype = part.get("type") if isinstance(part, dict) else None
            if ptype == "text":
                text = part.get("text")
                if not isinstance(text, str) or not text or text.isspace():
                    self._err("missing_content", line, f"{pwhere} is a text part without text")
                else:
                    self._text(tokens, text, assistant=trained, line=line, where=pwhere)
            elif ptype == "image_url":
                images += 1
                tokens.base += TOKENS_PER_IMAGE
                if role != "user":
                    self._err(
                        "image_invalid", line, f"{pwhere}: images are only allowed in user messages"
                    )
                self._image(line, pwhere, part.get("image_url"))
            else:
                self._err(
                    "missing_content" if ptype is None or ptype != "image" else "image_invalid",
                    line,
                    f'{pwhere} has type {ptype!r}; parts are {{"type": "text"}} or {{"type": "image_url"}}',
                )
        return images

    def _image(self, line: int, where: str, image: Any) -> None:
        url = image.get("url") if isinstance(image, dict) else None
        if not isinstance(url, str) or not url:
            self._err("image_invalid", line, f"{where}: image_url needs a `url`")
            return
        detail = image.get("detail")
        if detail is not None and detail not in IMAGE_DETAIL:
            self._err("image_invalid", line, f"{where}: detail {detail!r} is not auto, low or high")
        if url.startswith("https://"):
            return
        if not url.startswith("data:"):
            scheme = url.split(":", 1)[0] if ":" in url else url[:20]
            self._err(
                "image_invalid",
                line,
                f"{where}: the url must be https:// or a data: URL, not {scheme!r}",
            )
            return
        prefix, _, payload = url.partition(",")
        mime = prefix[5:].split(";", 1)[0].lower()
        if mime not in IMAGE_MIME or ";base64" not in prefix:
            self._err(
                "image_invalid",
                line,
                f"{where}: data URL of type {mime or '?'!r}; use base64 JPEG, PNG or WEBP",
            )
            return
        size = len(payload) * 3 // 4
        if size > MAX_IMAGE_BYTES:
            self._err(
                "image_invalid", line, f"{where}: the image is {size / 2**20:.1f} MB, over 10 MB"
            )
        try:
            head = base64.b64decode(payload[:64] + "=" * (-len(payload[:64]) % 4), validate=True)
        except (binascii.Error, ValueError):
            self._err("image_invalid", line, f"{where}: the data URL is not valid base64")
            return
        kind = image_format(head)
        if kind is None:
            self._err("image_invalid", line, f"{where}: the data is not a JPEG, PNG or WEBP image")
            return
        if kind == "jpeg":  # its frame header may follow EXIF/ICC segments: read further
            cut = min(len(payload), JPEG_HEADER_CHARS) // 4 * 4
            try:
                head = base64.b64decode(payload[:cut], validate=True)
            except (binascii.Error, ValueError):
                return  # a cut or odd payload: the provider decides
        mode = image_mode(head)
        if mode is not None and mode not in RGB_MODES:
            name = IMAGE_MODE_NAMES.get(mode, mode)
            what = name if name == mode else f"{name} (mode {mode})"
            self._err(
                "image_invalid",
                line,
                f"{where}: the {kind.upper()} image is {what}; images must be RGB or RGBA",
                hint='Convert it to RGB, e.g. with Pillow: Image.open(f).convert("RGB").save(...).',
            )
