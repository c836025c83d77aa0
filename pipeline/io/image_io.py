"""Reading photos (any common format and bit depth, EXIF-oriented) and writing textures."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import ImageReadError, PipelineError
from .atomic import atomic_write
from .exif import ExifInfo, read_exif
from .formats import MIN_PHOTO_SIDE, PHOTO_SUFFIXES


@dataclass
class Photo:
    path: str
    rgb: np.ndarray  # (H, W, 3) uint8 or uint16, EXIF orientation applied, row 0 = top
    alpha: np.ndarray | None  # (H, W) float32 in [0, 1] when the file has an alpha channel
    focal_35mm: float | None  # EXIF FocalLengthIn35mmFilm, if present
    orientation: int  # the EXIF orientation that was applied (1 = none)

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    def rgb_float(self) -> np.ndarray:
        """RGB as float32 in [0, 1]."""
        return to_float(self.rgb)

    def rgb8(self) -> np.ndarray:
        return to_uint8(self.rgb)


def full_scale(dtype: np.dtype) -> float:
    """The value of white in an image of this type: 65535 for uint16, else 255."""
    return 65535.0 if dtype == np.uint16 else 255.0


def to_float(image: np.ndarray) -> np.ndarray:
    """A uint8 or uint16 image as float32 in [0, 1]."""
    return image.astype(np.float32) * np.float32(1.0 / full_scale(image.dtype))


def to_uint8(image: np.ndarray) -> np.ndarray:
    """A uint8 or uint16 image as uint8, rounded to nearest (uint8 is returned as it is)."""
    if image.dtype != np.uint16:
        return image.astype(np.uint8, copy=False)
    return ((image.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def read_photo(path: str | os.PathLike[str]) -> Photo:
    """Read a JPEG/PNG/TIFF/WebP photo as RGB with EXIF orientation applied.

    Raises ImageReadError naming the file when it is missing, unreadable, truncated or not
    an image.
    """
    path = os.fspath(path)
    data = _read_bytes(path, "photo")
    _check_complete(path, data)
    exif = read_exif(data)
    image = cv2.imdecode(
        np.frombuffer(_without_tiff_orientation(data, exif), np.uint8), cv2.IMREAD_UNCHANGED
    )
    if image is None or image.size == 0:
        raise ImageReadError(
            f"Cannot read photo '{path}': not an image in a supported format "
            f"({', '.join(PHOTO_SUFFIXES)})."
        )
    rgb, alpha = _to_rgb(path, image)
    rgb = apply_orientation(rgb, exif.orientation)
    if alpha is not None:
        alpha = apply_orientation(alpha, exif.orientation)
    check_photo_size(rgb.shape[1], rgb.shape[0], path)
    return Photo(path, np.ascontiguousarray(rgb), alpha, exif.focal_35mm, exif.orientation)


def check_photo_size(width: int, height: int, path: str) -> None:
    """Raise ImageReadError when a photo is smaller than MIN_PHOTO_SIDE on either side."""
    if min(width, height) < MIN_PHOTO_SIDE:
        raise ImageReadError(
            f"The photo '{path}' is {width}x{height} pixels: a 3D photo needs at least "
            f"{MIN_PHOTO_SIDE}x{MIN_PHOTO_SIDE}."
        )


def _read_bytes(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise ImageReadError(f"The {what} '{path}' does not exist.") from None
    except IsADirectoryError:
        raise ImageReadError(f"The {what} '{path}' is a folder, not a file.") from None
    except OSError as e:
        raise ImageReadError(f"Cannot open the {what} '{path}': {e.strerror}.") from None


def _check_complete(path: str, data: bytes) -> None:
    """Decoders quietly return partial images for truncated JPEG/PNG/WebP; refuse those."""
    if not data:
        raise ImageReadError(f"Cannot read photo '{path}': the file is empty.")
    truncated = False
    if data[:2] == b"\xff\xd8":
        # 0xFFD9 (end of image) cannot occur inside entropy-coded data (0xFF is stuffed).
        truncated = data.rfind(b"\xff\xd9") < data.find(b"\xff\xda")
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        truncated = b"IEND" not in data[-64:]
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        truncated = int.from_bytes(data[4:8], "little") + 8 > len(data)
    if truncated:
        raise ImageReadError(
            f"Cannot read photo '{path}': the file is truncated (incomplete download or copy?)."
        )


def _without_tiff_orientation(data: bytes, exif: ExifInfo) -> bytes:
    """OpenCV's TIFF decoder applies some orientations itself and fails on transposing ones;
    hand it the file with orientation 1 and apply the EXIF orientation here, as for every
    other format."""
    if (
        exif.orientation == 1
        or exif.orientation_offset is None
        or data[:4] not in (b"II*\x00", b"MM\x00*")
    ):
        return data
    patched = bytearray(data)
    at = exif.orientation_offset
    patched[at : at + 2] = (1).to_bytes(2, "big" if exif.big_endian else "little")
    return bytes(patched)


def _to_rgb(path: str, image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """OpenCV's BGR/BGRA/gray of any depth -> RGB uint8/uint16 plus optional alpha."""
    if image.dtype not in (np.uint8, np.uint16):
        if image.dtype == np.float32 or image.dtype == np.float64:
            image = (np.clip(np.nan_to_num(image), 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)
        elif image.dtype == np.int8:
            image = image.view(np.uint8)
        else:
            image = np.clip(image, 0, 65535).astype(np.uint16)
    alpha = None
    if image.ndim == 2:
        rgb = np.repeat(image[:, :, None], 3, axis=2)
    elif image.shape[2] == 1:
        rgb = np.repeat(image, 3, axis=2)
    elif image.shape[2] == 2:  # gray + alpha
        rgb = np.repeat(image[:, :, :1], 3, axis=2)
        alpha = image[:, :, 1]
    elif image.shape[2] == 3:
        rgb = image[:, :, ::-1]
    elif image.shape[2] == 4:
        rgb = image[:, :, 2::-1]
        alpha = image[:, :, 3]
    else:
        raise ImageReadError(f"Cannot read photo '{path}': {image.shape[2]} colour channels.")
    if alpha is not None:
        top = 65535.0 if alpha.dtype == np.uint16 else 255.0
        alpha = alpha.astype(np.float32) / np.float32(top)
        if alpha.min() >= 1.0:
            alpha = None  # an opaque alpha channel carries no information
    return rgb, alpha


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Rotate/flip an image stored with EXIF ``orientation`` so that it displays upright."""
    if orientation == 2:
        return image[:, ::-1]
    if orientation == 3:
        return image[::-1, ::-1]
    if orientation == 4:
        return image[::-1, :]
    if orientation == 5:
        return np.swapaxes(image, 0, 1)
    if orientation == 6:
        return np.swapaxes(image, 0, 1)[:, ::-1]
    if orientation == 7:
        return np.swapaxes(image, 0, 1)[::-1, ::-1]
    if orientation == 8:
        return np.swapaxes(image, 0, 1)[::-1, :]
    return image


def encode_image(rgb: np.ndarray, suffix: str = ".png", compression: int = 1) -> bytes:
    """RGB(A) uint8/uint16 encoded as ``suffix`` (PNG: zlib level ``compression``, 1 = fast).
    OpenCV releases the GIL while encoding, so this can run in a thread beside other work."""
    if rgb.dtype not in (np.uint8, np.uint16) or rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
        raise PipelineError(f"Expected uint8/uint16 RGB(A) to encode, got {rgb.dtype} {rgb.shape}.")
    bgr = rgb[:, :, 2::-1] if rgb.shape[2] == 3 else rgb[:, :, [2, 1, 0, 3]]
    ok, encoded = cv2.imencode(
        suffix, np.ascontiguousarray(bgr), [cv2.IMWRITE_PNG_COMPRESSION, compression]
    )
    if not ok:
        raise PipelineError(f"Cannot encode the image as {suffix}.")
    return encoded.tobytes()


def texture_png(texture: np.ndarray) -> bytes:
    """A texture atlas as the 8-bit PNG that Blender packs: a 16-bit one would be a float
    image in Blender (four times the memory at render time, twice the file) for no visible
    gain on an sRGB photo."""
    return encode_image(to_uint8(texture))


def write_image_atomic(path: str | os.PathLike[str], rgb: np.ndarray) -> None:
    """Write RGB(A) uint8/uint16 to PNG (fast compression) via a temporary file and rename,
    so an interrupted write never leaves a half-written texture."""
    path = Path(path)
    try:
        encoded = encode_image(rgb, path.suffix or ".png")
    except PipelineError as e:
        raise PipelineError(f"Cannot write '{path}': {e}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, encoded)
