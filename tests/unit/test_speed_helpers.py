"""The speed helpers give exactly what the plain numpy they replace gives, and threaded stages
do not depend on the number of threads."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.inpaint import push_pull
from pipeline.ldi import preprocess as preprocess_module
from pipeline.ldi.layers import mask_bbox
from pipeline.ldi.lift import build_ldi
from pipeline.ldi.links import _argmin_small, compute_links
from pipeline.ldi.preprocess import preprocess, weighted_median
from pipeline.mesh.ldi_mesh import _pick
from pipeline.mesh.simplify import _block_all, _block_view
from pipeline.runtime import parallel

THRESHOLD = 0.04


def test_argmin_small_matches_argmin() -> None:
    rng = np.random.default_rng(0)
    for k in (1, 2, 3, 5):
        a = rng.integers(0, 3, (k, k, 500)).astype(np.float32)
        a[a == 2] = np.inf  # ties and infinities: the first minimum wins, as in argmin
        for axis in (0, 1):
            assert np.array_equal(_argmin_small(a, axis), np.argmin(a, axis=axis))


@pytest.mark.parametrize("s", [2, 8, 16])
def test_block_all_matches_strided_windows(s: int) -> None:
    rng = np.random.default_rng(s)
    for _ in range(10):
        h, w = rng.integers(s + 1, 120, 2)
        m = rng.random((h, w)) > 0.01
        nby, nbx = (h - 1) // s, (w - 1) // s
        view = _block_view(np.ascontiguousarray(m), s, nby, nbx)
        assert np.array_equal(_block_all(m, s + 1, s + 1, s, nby, nbx), view.all(axis=(2, 3)))
        assert np.array_equal(
            _block_all(m, s + 1, s, s, nby, nbx), view[:, :, :, :s].all(axis=(2, 3))
        )
        assert np.array_equal(
            _block_all(m, s, s + 1, s, nby, nbx), view[:, :, :s, :].all(axis=(2, 3))
        )


def test_mask_bbox() -> None:
    m = np.zeros((20, 30), bool)
    assert mask_bbox(m) is None
    m[3, 7] = m[11, 4] = m[5, 25] = True
    ys, xs = np.nonzero(m)
    assert mask_bbox(m) == (ys.min(), ys.max() + 1, xs.min(), xs.max() + 1)


def test_pick_matches_take_along_axis() -> None:
    rng = np.random.default_rng(1)
    stack = rng.random((3, 17, 23)).astype(np.float32)
    lmap = rng.integers(-1, 3, (17, 23)).astype(np.int8)
    expected = np.take_along_axis(stack, np.clip(lmap, 0, None)[None].astype(np.intp), 0)[0]
    assert np.array_equal(_pick(stack, lmap), expected)


def test_push_pull_keeps_known_pixels() -> None:
    rng = np.random.default_rng(2)
    image = rng.random((40, 50, 3)).astype(np.float32)
    known = rng.random((40, 50)) > 0.7
    image[~known] = 0.0
    out = push_pull(image, known)
    assert out.dtype == np.float32 and out.shape == image.shape
    assert np.array_equal(out[known], image[known])
    assert np.isfinite(out).all()


def _scene() -> tuple[np.ndarray, np.ndarray]:
    h, w = 96, 120
    yy, xx = np.mgrid[0:h, 0:w]
    disp = np.full((h, w), 0.3, np.float32) + np.float32(0.001) * xx.astype(np.float32)
    disp[20:70, 30:80] = 0.9
    disp[40:60, 50:65] = 0.6
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[..., 0] = (xx * 2) % 256
    rgb[..., 1] = (yy * 3) % 256
    rgb[..., 2] = np.where(disp > 0.5, 220, 40)
    return disp, rgb


def test_threaded_stages_do_not_depend_on_thread_count(monkeypatch: pytest.MonkeyPatch) -> None:
    disp, rgb = _scene()
    guide = rgb.astype(np.float32) / 255.0

    def run() -> tuple[np.ndarray, ...]:
        pre = preprocess(disp, guide, THRESHOLD, 5, 1, 0)
        wm = weighted_median(disp, guide, THRESHOLD)
        ldi = build_ldi(pre.disp, pre.cuts, rgb, THRESHOLD, 12, 2, 12, 0, with_links=False)
        links = compute_links(ldi.valid, ldi.disp, pre.cuts, THRESHOLD)
        return pre.disp, wm, ldi.valid, ldi.disp, links

    threaded = run()
    monkeypatch.setattr(parallel, "workers", lambda: 1)
    monkeypatch.setattr(preprocess_module, "workers", lambda: 1)
    single = run()
    for a, b in zip(threaded, single, strict=True):
        assert np.array_equal(a, b)
    # with_links=False leaves them for compute_links, which gives what build_ldi gives.
    pre = preprocess(disp, guide, THRESHOLD, 5, 1, 0)
    ldi = build_ldi(pre.disp, pre.cuts, rgb, THRESHOLD, 12, 2, 12, 0)
    assert np.array_equal(ldi.links, threaded[4])
