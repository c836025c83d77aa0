"""The photo header reader (pipeline.io.formats.photo_size): sizes without decoding."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.io.formats import photo_size


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
@pytest.mark.parametrize("width,height", [(320, 240), (241, 599)])
def test_size_of_jpeg_and_png(tmp_path: Path, suffix: str, width: int, height: int) -> None:
    path = tmp_path / f"photo{suffix}"
    cv2.imwrite(str(path), np.zeros((height, width, 3), np.uint8))
    assert photo_size(str(path)) == (width, height)


def test_jpeg_with_segments_before_the_frame(tmp_path: Path) -> None:
    """EXIF and other APPn segments (thumbnails: tens of KB) come before the frame header."""
    ok, encoded = cv2.imencode(".jpg", np.zeros((50, 70, 3), np.uint8))
    assert ok
    data = encoded.tobytes()
    app = b"\xff\xe1" + (60002).to_bytes(2, "big") + bytes(60000)  # a big APP1
    path = tmp_path / "big_app.jpg"
    path.write_bytes(data[:2] + app + data[2:])
    assert photo_size(str(path)) == (70, 50)
    assert cv2.imread(str(path)).shape[:2] == (50, 70)  # still a valid JPEG


@pytest.mark.parametrize(
    "content",
    [b"", b"\xff\xd8", b"\xff\xd8\xff\xe1\x00", b"\xff\xd8\xff\xda\x00\x08" + bytes(8), b"GIF89a"],
)
def test_unreadable_headers_give_none(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "odd.jpg"
    path.write_bytes(content)
    assert photo_size(str(path)) is None
    assert photo_size(str(tmp_path / "missing.jpg")) is None
