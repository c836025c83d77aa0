"""File suffixes the pipeline reads (any case). Standard library only, so that Blender's
file browser, drag and drop and the batch can use them without loading OpenCV."""

from __future__ import annotations

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp")
