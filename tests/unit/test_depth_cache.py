"""Depth cache: keyed by photo content + backend (+ depth_* extras), atomic .npy entries."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.depth import cache, registry
from pipeline.depth.registry import BACKENDS, DepthBackend
from pipeline.errors import SettingsError
from pipeline.io.image_io import Photo, read_photo
from pipeline.settings import PipelineSettings

CALLS: list[str] = []


def _fake_estimate(photo: Photo, settings: PipelineSettings) -> np.ndarray:
    CALLS.append(settings.depth_backend)
    h, w = photo.rgb.shape[:2]
    base = float(photo.rgb.mean()) + len(settings.depth_backend)
    return (np.arange(h * w, dtype=np.float32).reshape(h, w) + base).astype(np.float32)


@pytest.fixture
def fake_backends(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    CALLS.clear()
    for name in ("fake-net", "fake-net-2"):
        backend = DepthBackend(name, name, "MIT", "any", True, _fake_estimate)
        monkeypatch.setitem(BACKENDS, name, backend)
    cheap = DepthBackend("fake-file", "fake-file", "MIT", "any", False, _fake_estimate)
    monkeypatch.setitem(BACKENDS, "fake-file", cheap)
    cache.reset_stats()
    return CALLS


def _photo(folder: Path, seed: int = 0, name: str = "p.png") -> Photo:
    rgb = (np.random.default_rng(seed).random((24, 32, 3)) * 255).astype(np.uint8)
    path = folder / name
    cv2.imwrite(str(path), rgb[:, :, ::-1])
    return read_photo(path)


def test_second_import_hits_the_cache(fake_backends: list[str], tmp_path: Path) -> None:
    photo = _photo(tmp_path)
    store = tmp_path / "cache"
    first = cache.cached_estimate(photo, PipelineSettings(depth_backend="fake-net"), store)
    # Other LDI/mesh settings do not invalidate the depth.
    other = PipelineSettings(depth_backend="fake-net", depth_threshold=0.2, depth_scale=3.0)
    second = cache.cached_estimate(photo, other, store)
    assert fake_backends == ["fake-net"]
    assert (cache.STATS.hits, cache.STATS.misses, cache.STATS.stores) == (1, 1, 1)
    np.testing.assert_array_equal(first, second)
    assert second.shape == (24, 32) and second.dtype == np.float32
    assert [p.suffix for p in store.iterdir()] == [".npy"]  # no temporary files left


def test_key_changes_with_backend_content_and_depth_extras(
    fake_backends: list[str], tmp_path: Path
) -> None:
    store = tmp_path / "cache"
    photo = _photo(tmp_path)
    cache.cached_estimate(photo, PipelineSettings(depth_backend="fake-net"), store)
    cache.cached_estimate(photo, PipelineSettings(depth_backend="fake-net-2"), store)
    extras = {"depth_input_size": 364, "ldi_steps": 3}
    cache.cached_estimate(photo, PipelineSettings(depth_backend="fake-net", extras=extras), store)
    # Non-depth extras are not part of the key.
    extras2 = {"depth_input_size": 364, "ldi_steps": 9}
    cache.cached_estimate(photo, PipelineSettings(depth_backend="fake-net", extras=extras2), store)
    assert len(fake_backends) == 3
    # A different photo under the same path (new content) is estimated again...
    changed = _photo(tmp_path, seed=1)
    cache.cached_estimate(changed, PipelineSettings(depth_backend="fake-net"), store)
    assert len(fake_backends) == 4
    # ...and the same content under another name is not.
    copy = _photo(tmp_path, seed=1, name="copy.png")
    cache.cached_estimate(copy, PipelineSettings(depth_backend="fake-net"), store)
    assert len(fake_backends) == 4
    assert cache.cache_size(store)[0] == 4


def test_photo_without_file_is_keyed_by_pixels(fake_backends: list[str], tmp_path: Path) -> None:
    rgb = np.zeros((8, 8, 3), np.uint8)
    a = Photo("", rgb, None, None, 1)
    b = Photo("", rgb.copy(), None, None, 1)
    c = Photo("", rgb + 1, None, None, 1)
    assert cache.photo_digest(a) == cache.photo_digest(b) != cache.photo_digest(c)
    settings = PipelineSettings(depth_backend="fake-net")
    for photo in (a, b, c):
        cache.cached_estimate(photo, settings, tmp_path)
    assert len(fake_backends) == 2


def test_damaged_entry_is_recomputed(fake_backends: list[str], tmp_path: Path) -> None:
    photo = _photo(tmp_path)
    store = tmp_path / "cache"
    settings = PipelineSettings(depth_backend="fake-net")
    good = cache.cached_estimate(photo, settings, store)
    (entry,) = store.glob("*.npy")
    entry.write_bytes(entry.read_bytes()[:100])  # truncated
    again = cache.cached_estimate(photo, settings, store)
    np.testing.assert_array_equal(good, again)
    assert len(fake_backends) == 2
    np.save(entry, np.zeros((3, 3), np.float32))  # wrong shape
    cache.cached_estimate(photo, settings, store)
    assert len(fake_backends) == 3
    assert cache.STATS.hits == 0


def test_clear_and_prune(fake_backends: list[str], tmp_path: Path) -> None:
    store = tmp_path / "cache"
    settings = PipelineSettings(depth_backend="fake-net")
    photos = [_photo(tmp_path, seed=i, name=f"{i}.png") for i in range(3)]
    entry_bytes = 24 * 32 * 4 + 128
    for photo in photos:  # room for two entries only: the oldest is dropped
        cache.cached_estimate(photo, settings, store, max_bytes=2 * entry_bytes)
    assert cache.cache_size(store)[0] == 2
    cache.cached_estimate(photos[2], settings, store)
    assert len(fake_backends) == 3  # the newest one survived
    (store / "stale.part").write_bytes(b"x")
    assert cache.clear_cache(store) == 3
    assert cache.cache_size(store) == (0, 0)
    cache.cached_estimate(photos[2], settings, store)
    assert len(fake_backends) == 4


def test_cheap_backends_are_not_cached(fake_backends: list[str], tmp_path: Path) -> None:
    photo = _photo(tmp_path)
    for _ in range(2):
        cache.cached_estimate(photo, PipelineSettings(depth_backend="fake-file"), tmp_path / "c")
    assert fake_backends == ["fake-file", "fake-file"]
    assert not (tmp_path / "c").exists()


def test_unwritable_cache_still_returns_depth(fake_backends: list[str], tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-folder"
    blocker.write_bytes(b"")
    photo = _photo(tmp_path)
    out = cache.cached_estimate(photo, PipelineSettings(depth_backend="fake-net"), blocker)
    assert out.shape == (24, 32) and cache.STATS.stores == 0


def test_unknown_backend(tmp_path: Path) -> None:
    photo = _photo(tmp_path)
    with pytest.raises(SettingsError, match="no-such-net"):
        cache.cached_estimate(photo, PipelineSettings(depth_backend="no-such-net"), tmp_path)


def test_backend_modules_are_found_lazily() -> None:
    pytest.importorskip("torch", reason="the Depth Anything module is imported for real")
    estimate = registry.native_estimator("depth-anything-v2-base")
    assert estimate.__name__ == "estimate_native"
    assert "depth-anything-v2-base" in BACKENDS
    with pytest.raises(SettingsError, match="Unknown depth backend"):
        registry.native_estimator("nope")
