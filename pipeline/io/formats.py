"""File suffixes the pipeline reads (any case). Standard library only, so that Blender's
file browser, drag and drop and the batch can use them without loading OpenCV."""

from __future__ import annotations

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp")

# Smallest photo side in pixels. A strip one or two pixels wide has no quad to mesh (the
# result would be an empty mesh); below this there is too little to cut, grow and inpaint.
MIN_PHOTO_SIDE = 16


def photo_size(path: str) -> tuple[int, int] | None:
    """(width, height) from a JPEG's frame header or a PNG's IHDR, without decoding; None for
    other formats or anything unreadable. A hint only (EXIF orientation is not applied): the
    worker sizes its heap warm-up by it before OpenCV is loaded."""
    try:
        with open(path, "rb") as f:
            head = f.read(24)
            if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
                return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
            if head[:2] != b"\xff\xd8":
                return None
            f.seek(2)
            while True:  # marker segments up to the frame header (SOF0-SOF15, not DHT/JPG/DAC)
                marker = f.read(4)
                if len(marker) < 4 or marker[0] != 0xFF:
                    return None
                kind, length = marker[1], int.from_bytes(marker[2:4], "big")
                if 0xC0 <= kind <= 0xCF and kind not in (0xC4, 0xC8, 0xCC):
                    frame = f.read(5)  # precision, height, width
                    if len(frame) < 5:
                        return None
                    return int.from_bytes(frame[3:5], "big"), int.from_bytes(frame[1:3], "big")
                if kind == 0xD9 or kind == 0xDA or length < 2:
                    return None  # end of image or scan data before any frame header
                f.seek(length - 2, 1)
    except OSError:
        return None
