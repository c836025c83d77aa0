"""A small EXIF reader: orientation and 35 mm equivalent focal length.

Only the standard library: Blender ships no Pillow. Finds the TIFF-structured EXIF block in
JPEG (APP1), PNG (eXIf chunk), WebP (EXIF chunk) and TIFF files, then walks IFD0 and the
Exif sub-IFD. Anything malformed yields "unknown" rather than an error: EXIF is a hint.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

TAG_ORIENTATION = 0x0112
TAG_EXIF_IFD = 0x8769
TAG_FOCAL_35MM = 0xA405

# TIFF field type -> (struct code, size)
_TYPES = {
    1: ("B", 1),
    3: ("H", 2),
    4: ("I", 4),
    5: ("II", 8),
    7: ("B", 1),
    9: ("i", 4),
    10: ("ii", 8),
}


@dataclass(frozen=True)
class ExifInfo:
    orientation: int = 1  # 1..8 as in the EXIF standard; 1 = as stored
    focal_35mm: float | None = None
    # Byte offset of the orientation value inside the TIFF block (for TIFF files: the file).
    orientation_offset: int | None = None
    big_endian: bool = False


def read_exif(data: bytes) -> ExifInfo:
    block = _find_tiff_block(data)
    if block is None:
        return ExifInfo()
    try:
        return _parse_tiff(block)
    except (struct.error, IndexError, ValueError):
        return ExifInfo()


def _find_tiff_block(data: bytes) -> bytes | None:
    if data[:2] == b"\xff\xd8":  # JPEG: walk the marker segments up to start-of-scan
        pos = 2
        while pos + 4 <= len(data) and data[pos] == 0xFF:
            marker = data[pos + 1]
            if marker == 0xDA:
                break
            (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
            segment = data[pos + 4 : pos + 2 + length]
            if marker == 0xE1 and segment[:6] == b"Exif\x00\x00":
                return segment[6:]
            pos += 2 + length
        return None
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        pos = 8
        while pos + 8 <= len(data):
            length, kind = struct.unpack(">I4s", data[pos : pos + 8])
            if kind == b"eXIf":
                return data[pos + 8 : pos + 8 + length]
            if kind == b"IDAT":  # EXIF placed after image data is ignored, as by most readers
                return None
            pos += 12 + length
        return None
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        pos = 12
        while pos + 8 <= len(data):
            kind, length = struct.unpack("<4sI", data[pos : pos + 8])
            if kind == b"EXIF":
                chunk = data[pos + 8 : pos + 8 + length]
                return chunk[6:] if chunk.startswith(b"Exif\x00\x00") else chunk
            pos += 8 + length + (length & 1)
        return None
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return data
    return None


def _parse_tiff(block: bytes) -> ExifInfo:
    endian = "<" if block[:2] == b"II" else ">"
    (ifd0,) = struct.unpack(endian + "I", block[4:8])
    offsets: dict[int, int] = {}
    tags = _read_ifd(block, ifd0, endian, offsets)
    orientation = int(tags.get(TAG_ORIENTATION, 1))
    focal = None
    if TAG_EXIF_IFD in tags:
        exif_tags = _read_ifd(block, int(tags[TAG_EXIF_IFD]), endian)
        value = exif_tags.get(TAG_FOCAL_35MM)
        if value:
            focal = float(value)
    if not 1 <= orientation <= 8:
        orientation = 1
    return ExifInfo(
        orientation=orientation,
        focal_35mm=focal,
        orientation_offset=offsets.get(TAG_ORIENTATION),
        big_endian=endian == ">",
    )


def _read_ifd(
    block: bytes, offset: int, endian: str, offsets: dict[int, int] | None = None
) -> dict[int, float]:
    """First value of every numeric entry of one IFD (and, in ``offsets``, where inline
    values are stored)."""
    (count,) = struct.unpack(endian + "H", block[offset : offset + 2])
    values: dict[int, float] = {}
    for i in range(min(count, 1000)):
        entry = block[offset + 2 + 12 * i : offset + 14 + 12 * i]
        tag, kind, n = struct.unpack(endian + "HHI", entry[:8])
        if kind not in _TYPES or n < 1:
            continue
        code, size = _TYPES[kind]
        raw = entry[8:12]
        if offsets is not None and size <= 4:
            offsets[tag] = offset + 2 + 12 * i + 8
        if size > 4:
            (ptr,) = struct.unpack(endian + "I", raw)
            raw = block[ptr : ptr + size]
        parts = struct.unpack(endian + code, raw[:size])
        if len(parts) == 2:  # rational
            values[tag] = parts[0] / parts[1] if parts[1] else 0.0
        else:
            values[tag] = float(parts[0])
    return values
