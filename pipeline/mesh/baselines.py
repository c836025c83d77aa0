"""Single-layer meshes from a depth map: one vertex per pixel, two triangles per pixel quad.

``grid_mesh`` builds both baselines the LDI is measured against: the "rubber sheet"
(``threshold=None``, nothing cut) and the torn single layer (no triangle across a cut).
"""

from __future__ import annotations

import numpy as np

from ..io.intrinsics import Intrinsics, unproject


def pixel_positions(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Image-plane positions of the vertex grid: pixel centres, except that the outermost
    rows and columns sit on the image border so the mesh covers the whole frame."""
    xs = np.arange(width, dtype=np.float32) + 0.5
    ys = np.arange(height, dtype=np.float32) + 0.5
    xs[0], xs[-1] = 0.0, float(width)
    ys[0], ys[-1] = 0.0, float(height)
    return xs, ys


def grid_mesh(
    disp: np.ndarray,
    z: np.ndarray,
    intrinsics: Intrinsics,
    threshold: float | None,
    valid: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices (H*W, 3), triangles (M, 3) and UVs (H*W, 2) for a depth map.

    ``disp`` is normalised disparity, ``z`` the camera-axis distance, both (H, W). A triangle is
    dropped when any of its edges crosses a disparity jump above ``threshold`` or touches a
    pixel where ``valid`` is False (transparent)."""
    h, w = z.shape
    xs, ys = pixel_positions(w, h)
    vertices = unproject(xs[None, :], ys[:, None], z, intrinsics).reshape(-1, 3)
    uvs = np.empty((h, w, 2), np.float32)
    uvs[..., 0] = xs[None, :] / np.float32(w)
    uvs[..., 1] = np.float32(1.0) - ys[:, None] / np.float32(h)

    idx = np.arange(h * w, dtype=np.int32).reshape(h, w)
    tl, tr, bl, br = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    d_tl, d_tr, d_bl, d_br = disp[:-1, :-1], disp[:-1, 1:], disp[1:, :-1], disp[1:, 1:]
    # Split each quad along the diagonal whose ends are closer in depth: at an edge this keeps
    # the two triangles on the two sides instead of bridging it.
    main_diag = np.abs(d_tl - d_br) <= np.abs(d_tr - d_bl)

    if threshold is None:
        keep1 = keep2 = np.ones(tl.shape, bool)
    else:
        top = np.abs(d_tl - d_tr) <= threshold
        bottom = np.abs(d_bl - d_br) <= threshold
        left = np.abs(d_tl - d_bl) <= threshold
        right = np.abs(d_tr - d_br) <= threshold
        diag_main = np.abs(d_tl - d_br) <= threshold
        diag_anti = np.abs(d_tr - d_bl) <= threshold
        # main diagonal: (tl, bl, br) and (tl, br, tr); anti: (tl, bl, tr) and (tr, bl, br)
        keep1 = np.where(main_diag, left & bottom & diag_main, left & top & diag_anti)
        keep2 = np.where(main_diag, right & top & diag_main, right & bottom & diag_anti)
    if valid is not None:
        v_tl, v_tr, v_bl, v_br = valid[:-1, :-1], valid[:-1, 1:], valid[1:, :-1], valid[1:, 1:]
        keep1 = keep1 & v_tl & v_bl & np.where(main_diag, v_br, v_tr)
        keep2 = keep2 & v_br & np.where(main_diag, v_tl & v_tr, v_tr & v_bl)

    tri1 = np.stack([tl, bl, np.where(main_diag, br, tr)], axis=-1)
    tri2 = np.stack(
        [np.where(main_diag, tl, tr), np.where(main_diag, br, bl), np.where(main_diag, tr, br)],
        axis=-1,
    )
    triangles = np.concatenate([tri1[keep1], tri2[keep2]]).astype(np.int32, copy=False)
    return vertices, triangles, uvs.reshape(-1, 2)
