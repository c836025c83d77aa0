"""Reading photos: every format and bit depth, EXIF orientation and focal length, bad files."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from pipeline.errors import ImageReadError, PipelineError
from pipeline.io.image_io import apply_orientation, read_photo, write_image_atomic
from pipeline.io.intrinsics import Intrinsics


def gradient(h: int = 40, w: int = 60) -> np.ndarray:
    """An RGB uint8 image whose every pixel differs, so orientation mistakes show."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 4 % 256, y * 6 % 256, (x + y) % 256], axis=-1).astype(np.uint8)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".webp"])
def test_lossless_rgb_roundtrip(tmp_path: Path, suffix: str) -> None:
    rgb = gradient()
    path = tmp_path / f"photo{suffix}"
    params = [cv2.IMWRITE_WEBP_QUALITY, 101] if suffix == ".webp" else []
    assert cv2.imwrite(str(path), rgb[:, :, ::-1], params)
    photo = read_photo(path)
    assert photo.rgb.dtype == np.uint8 and photo.rgb.shape == (40, 60, 3)
    np.testing.assert_array_equal(photo.rgb, rgb)
    assert photo.alpha is None and photo.orientation == 1


def test_jpeg_close_to_source(tmp_path: Path) -> None:
    rgb = gradient()
    path = tmp_path / "photo.jpg"
    cv2.imwrite(str(path), rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 98])
    photo = read_photo(path)
    assert photo.rgb.shape == rgb.shape
    assert np.abs(photo.rgb.astype(int) - rgb).mean() < 4


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_sixteen_bit(tmp_path: Path, suffix: str) -> None:
    rgb16 = gradient().astype(np.uint16) * 257 + 7
    path = tmp_path / f"deep{suffix}"
    cv2.imwrite(str(path), rgb16[:, :, ::-1])
    photo = read_photo(path)
    assert photo.rgb.dtype == np.uint16
    np.testing.assert_array_equal(photo.rgb, rgb16)
    assert photo.rgb_float().max() <= 1.0
    assert np.abs(photo.rgb8().astype(int) - gradient()).max() <= 1


def test_grayscale(tmp_path: Path) -> None:
    gray = gradient()[:, :, 0]
    path = tmp_path / "gray.png"
    cv2.imwrite(str(path), gray)
    photo = read_photo(path)
    assert photo.rgb.shape == (40, 60, 3)
    for c in range(3):
        np.testing.assert_array_equal(photo.rgb[:, :, c], gray)


def test_alpha(tmp_path: Path) -> None:
    rgba = np.dstack([gradient(), np.full((40, 60), 255, np.uint8)])
    rgba[:10, :, 3] = 0
    path = tmp_path / "alpha.png"
    cv2.imwrite(str(path), rgba[:, :, [2, 1, 0, 3]])
    photo = read_photo(path)
    np.testing.assert_array_equal(photo.rgb, gradient())
    assert photo.alpha is not None
    assert photo.alpha[:10].max() == 0.0 and photo.alpha[10:].min() == 1.0


def test_opaque_alpha_is_dropped(tmp_path: Path) -> None:
    rgba = np.dstack([gradient(), np.full((40, 60), 255, np.uint8)])
    path = tmp_path / "opaque.png"
    cv2.imwrite(str(path), rgba)
    assert read_photo(path).alpha is None


def test_cmyk_jpeg(tmp_path: Path) -> None:
    rgb = gradient()
    path = tmp_path / "cmyk.jpg"
    Image.fromarray(rgb).convert("CMYK").save(path, quality=98)
    photo = read_photo(path)
    assert photo.rgb.shape == (40, 60, 3)
    reference = np.asarray(Image.open(path).convert("RGB"))
    assert np.abs(photo.rgb.astype(int) - reference.astype(int)).mean() < 6


def exif_bytes(orientation: int, focal_35mm: int | None = None) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    if focal_35mm:
        exif.get_ifd(0x8769)[0xA405] = focal_35mm
    return exif.tobytes()


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
def test_exif_orientation_applied(tmp_path: Path, orientation: int, fmt: str) -> None:
    rgb = gradient()
    suffix = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "TIFF": ".tif"}[fmt]
    path = tmp_path / f"o{orientation}{suffix}"
    extra = {"quality": 100} if fmt in ("JPEG",) else {"lossless": True} if fmt == "WEBP" else {}
    Image.fromarray(rgb).save(path, format=fmt, exif=exif_bytes(orientation), **extra)
    photo = read_photo(path)
    assert photo.orientation == orientation
    expected = apply_orientation(rgb, orientation)
    assert photo.rgb.shape == expected.shape
    # Pillow's own transpose is the independent reference for what "upright" means.
    from PIL import ImageOps

    upright = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    tol = 6 if fmt == "JPEG" else 0
    assert np.abs(photo.rgb.astype(int) - upright.astype(int)).mean() <= tol


def test_exif_focal_length_sets_fov(tmp_path: Path) -> None:
    path = tmp_path / "phone.jpg"
    Image.fromarray(gradient(30, 40)).save(path, exif=exif_bytes(1, 26))
    photo = read_photo(path)
    assert photo.focal_35mm == 26.0
    intr = Intrinsics.choose(40, 30, 0.0, photo.focal_35mm)
    # 26 mm on the 43.27 mm diagonal of full frame: diagonal FOV 79.5 degrees.
    diag_fov = 2 * np.degrees(np.arctan(np.hypot(40, 30) / 2 / intr.fx))
    assert abs(diag_fov - 79.52) < 0.1
    # An explicit FOV wins over EXIF; no EXIF gives the documented default.
    assert abs(Intrinsics.choose(40, 30, 60.0, 26.0).fov_degrees - 60.0) < 1e-9
    assert abs(Intrinsics.choose(40, 30, 0.0, None).fov_degrees - 53.1301) < 1e-3


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="nope.jpg.*does not exist"):
        read_photo(tmp_path / "nope.jpg")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="folder"):
        read_photo(tmp_path)


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp"])
def test_truncated_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"whole{suffix}"
    cv2.imwrite(str(path), gradient(200, 300)[:, :, ::-1])
    data = path.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ImageReadError, match=f"cut{suffix}"):
        read_photo(cut)


@pytest.mark.parametrize("content", [b"", b"hello, not an image", bytes(range(256)) * 10])
def test_not_an_image(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fake.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match="fake.jpg"):
        read_photo(path)


def test_write_image_atomic_leaves_no_partial_file(tmp_path: Path) -> None:
    rgb = gradient()
    out = tmp_path / "sub" / "tex.png"
    write_image_atomic(out, rgb)
    np.testing.assert_array_equal(cv2.imread(str(out))[:, :, ::-1], rgb)
    assert [p.name for p in out.parent.iterdir()] == ["tex.png"]
    with pytest.raises(PipelineError, match="uint8/uint16"):
        write_image_atomic(tmp_path / "bad.png", np.zeros((4, 4, 3), np.float64))
    assert not list(tmp_path.glob("bad.png*"))


def test_exif_parser_survives_garbage() -> None:
    from pipeline.io.exif import read_exif

    broken = b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00II*\x00\xff\xff\xff\x7f" + b"\x00" * 20
    assert read_exif(broken).orientation == 1
    assert read_exif(io.BytesIO(b"").getvalue()).focal_35mm is None
