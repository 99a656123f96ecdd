"""What an inline image's header says: its format and colour mode, with no imaging library.

Fine-tuning accepts JPEG, PNG and WEBP images in RGB or RGBA mode only; a grayscale or
palette PNG, or a grayscale or CMYK JPEG, fails the job after upload. Both facts sit in the
first bytes of the file (PNG: the IHDR chunk; JPEG: the start-of-frame segment, after any
EXIF/ICC segments), so ``image_mode`` reads just those: a lint stays fast on a file full of
images, and Pillow is not a dependency.
"""

from __future__ import annotations

__all__ = ["RGB_MODES", "image_format", "image_mode"]

RGB_MODES = frozenset({"RGB", "RGBA"})

#: PNG IHDR colour type → Pillow's mode name (the names users meet in conversion recipes)
_PNG_MODES = {0: "L", 2: "RGB", 3: "P", 4: "LA", 6: "RGBA"}
#: JPEG components in the frame → mode
_JPEG_MODES = {1: "L", 3: "RGB", 4: "CMYK"}
#: start-of-frame markers (C4 DHT, C8 JPG and CC DAC share the range but are not frames)
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def image_format(data: bytes) -> str | None:
    """``"png"``, ``"jpeg"`` or ``"webp"`` from the magic bytes, else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "webp"
    return None


def image_mode(data: bytes) -> str | None:
    """The colour mode (``"RGB"``, ``"RGBA"``, ``"L"``, ``"LA"``, ``"P"``, ``"CMYK"``) that
    the header of ``data`` declares; None when it cannot tell (WEBP is always RGB(A); a
    header cut off or malformed is left to the provider)."""
    kind = image_format(data)
    if kind == "png":
        # signature (8), IHDR length (4) and type (4), width (4), height (4), depth (1), colour
        if len(data) < 26 or data[12:16] != b"IHDR":
            return None
        return _PNG_MODES.get(data[25])
    if kind == "jpeg":
        return _jpeg_mode(data)
    return None


def _jpeg_mode(data: bytes) -> str | None:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None  # not a marker where one must be: malformed
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers with no length
            i += 2
            continue
        if marker in _JPEG_SOF:
            # FF Cx, length (2), precision (1), height (2), width (2), components (1)
            return _JPEG_MODES.get(data[i + 9]) if i + 10 <= len(data) else None
        if marker == 0xDA:  # start of scan before any frame: malformed
            return None
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return None
