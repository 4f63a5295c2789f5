"""Lazy access to Pillow, so that ``import refnn.image`` works without it."""

from __future__ import annotations

from types import ModuleType

from refnn.image.errors import MissingPillowError

__all__ = ["pil_image"]


def pil_image(what: str) -> ModuleType:
    """Return ``PIL.Image``, or raise :class:`MissingPillowError` naming ``what`` needs it."""
    try:
        from PIL import Image
    except ImportError as exc:
        raise MissingPillowError(what) from exc
    return Image
