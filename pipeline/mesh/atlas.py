"""Texture atlas: layer 0 is the (margin-padded) photo itself; grown layers are packed as
fixed-size tiles below it.

Layout: the photo region occupies the top-left (its own pixels, no resampling). Below it, on
rows aligned to ``CELL``, come cells of ``CELL`` x ``CELL`` texels. Each cell holds one tile of
a grown layer: ``TILE + 1`` lattice positions per side (tiles share their boundary row/column,
which is duplicated so that every triangle lies inside one cell) at offset ``PAD``, surrounded
by the layer's own colour continued outward (the inpainter fills well beyond the grown
samples), never by another chart.

Below the cells, the backdrop (``pipeline.mesh.backdrop``), when there is one, has its own band
of whole ``CELL`` rows: one texel per backdrop node at offset ``PAD``, its edges continued
outward.

Bleed guarantee: cells (and the backdrop band) sit on a ``CELL``-aligned grid, and every UV
a triangle uses lies at least ``PAD + 0.5`` texels inside its cell (band), so bilinear lookups
at mip levels 0..3 (box-filtered mips, as Blender generates them) read texels of the same
cell only; Cycles samples textures without mips. At level 4 and beyond (a tile minified 16x
or more) texels of neighbouring cells can mix - a surface that small covers a pixel or two
on screen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from .mesh_data import MeshData

CELL = 64
TILE = 48  # quads per tile side; a multiple of every simplification block size (<= 16)
PAD = 7  # texels between the cell border and the first lattice position
# Highest mip level with no bleed between cells (see the module docstring).
SAFE_MIP_LEVEL = 3


@dataclass
class AtlasLayout:
    width: int
    height: int
    tiles_top: int  # first texel row of the tile area
    columns: int  # cells per row
    backdrop_top: int = -1  # first texel row of the backdrop band (-1: none)


def layout(
    photo_shape: tuple[int, int], n_tiles: int, backdrop: tuple[int, int] | None = None
) -> AtlasLayout:
    """The atlas for a photo region of ``photo_shape``, ``n_tiles`` grown-layer tiles and a
    backdrop of ``backdrop`` = (rows, columns) texels (at most the atlas's width less
    2 ``PAD``), if any."""
    h, w = photo_shape
    width = max(w, CELL)
    columns = width // CELL
    tiles_top = -(-(h + PAD) // CELL) * CELL if n_tiles or backdrop else h
    rows = -(-n_tiles // columns) if n_tiles else 0
    height = tiles_top + rows * CELL
    if backdrop is None:
        return AtlasLayout(width, height, tiles_top, columns)
    if backdrop[1] + 2 * PAD > width:
        raise ValueError(f"a backdrop of {backdrop[1]} texels does not fit an atlas {width} wide")
    band = -(-(backdrop[0] + 2 * PAD) // CELL) * CELL
    return AtlasLayout(width, height + band, tiles_top, columns, height)


def cell_origin(lay: AtlasLayout, cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Texel (row, column) of the top-left corner of each cell index."""
    return lay.tiles_top + (cell // lay.columns) * CELL, (cell % lay.columns) * CELL


def build_atlas(
    photo: np.ndarray,
    layer_colors: list[np.ndarray],
    tiles: list[np.ndarray],
    backdrop: np.ndarray | None = None,
) -> tuple[np.ndarray, AtlasLayout]:
    """Assemble the atlas texture. ``photo`` (H, W, 3) is layer 0's colour; ``layer_colors[i]``
    the dense colour of grown layer i+1 on the same lattice; ``tiles[i]`` its used tiles as
    (n, 2) (tile row, tile column). Cells are assigned in order: layer 1's tiles first.
    ``backdrop``: the backdrop's texels (rows, columns, 3), if any, in its own band below."""
    h, w = photo.shape[:2]
    n_tiles = int(sum(t.shape[0] for t in tiles))
    lay = layout((h, w), n_tiles, None if backdrop is None else backdrop.shape[:2])
    texture = np.zeros((lay.height, lay.width, photo.shape[2]), photo.dtype)
    texture[:h, :w] = photo
    # Continue the photo's edges into the unused area so mips never pull in black.
    texture[h : lay.tiles_top, :w] = photo[h - 1 : h]
    texture[: lay.tiles_top, w:] = texture[: lay.tiles_top, w - 1 : w]
    if backdrop is not None:
        top = lay.backdrop_top
        bh, bw = backdrop.shape[:2]
        band = texture[top:, :]
        # The backdrop's edges continued over its whole band (no other chart shares it).
        band[:] = cv2.copyMakeBorder(
            np.ascontiguousarray(backdrop[..., : photo.shape[2]]),
            PAD,
            band.shape[0] - bh - PAD,
            PAD,
            lay.width - bw - PAD,
            cv2.BORDER_REPLICATE,
        ).reshape(band.shape)
    if n_tiles == 0:
        return texture, lay
    cells = []
    offs = np.arange(CELL) - PAD
    for color, t in zip(layer_colors, tiles, strict=False):
        if t.shape[0] == 0:
            continue
        rows = np.clip(t[:, 0:1] * TILE + offs[None, :], 0, h - 1)  # (n, CELL)
        cols = np.clip(t[:, 1:2] * TILE + offs[None, :], 0, w - 1)
        cells.append(color[rows[:, :, None], cols[:, None, :]])  # (n, CELL, CELL, 3)
    allc = np.concatenate(cells)
    total = -(-n_tiles // lay.columns) * lay.columns
    if total > n_tiles:
        allc = np.concatenate([allc, np.repeat(allc[-1:], total - n_tiles, axis=0)])
    grid = allc.reshape(-1, lay.columns, CELL, CELL, allc.shape[-1]).transpose(0, 2, 1, 3, 4)
    region = grid.reshape(-1, lay.columns * CELL, allc.shape[-1])
    bottom = lay.tiles_top + region.shape[0]
    texture[lay.tiles_top : bottom, : lay.columns * CELL] = region
    if lay.columns * CELL < lay.width:
        texture[lay.tiles_top : bottom, lay.columns * CELL :] = region[:, -1:]
    return texture, lay


def photo_uv(lay: AtlasLayout, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """UVs (origin bottom-left) of lattice positions in the photo region (texel centres)."""
    uv = np.empty((y.shape[0], 2), np.float32)
    uv[:, 0] = (x + 0.5) / lay.width
    uv[:, 1] = 1.0 - (y + 0.5) / lay.height
    return uv


def tile_uv(
    lay: AtlasLayout, cell: np.ndarray, local_y: np.ndarray, local_x: np.ndarray
) -> np.ndarray:
    """UVs of lattice positions given by their cell and their position inside the tile."""
    r0, c0 = cell_origin(lay, cell)
    uv = np.empty((cell.shape[0], 2), np.float32)
    uv[:, 0] = (c0 + PAD + local_x + 0.5) / lay.width
    uv[:, 1] = 1.0 - (r0 + PAD + local_y + 0.5) / lay.height
    return uv


def backdrop_uv(lay: AtlasLayout, row: np.ndarray, column: np.ndarray) -> np.ndarray:
    """UVs of backdrop nodes (row, column) in the backdrop band (texel centres)."""
    uv = np.empty((row.shape[0], 2), np.float32)
    uv[:, 0] = (column + (PAD + 0.5)) / lay.width
    uv[:, 1] = 1.0 - (row + (lay.backdrop_top + PAD + 0.5)) / lay.height
    return uv


def full_resolution_photo(
    mesh: MeshData, photo: np.ndarray, work_shape: tuple[int, int], margin: int
) -> None:
    """Replace the atlas's photo region (the margin-padded working photo at the top left) by
    the margin-padded full-resolution photo, move the grown layers' tiles below it and remap
    every UV. Texel edge coordinates: a working photo texel t is image position t - margin
    (working px), i.e. (t - margin) * scale full-resolution px."""
    h, w = work_shape
    big_h, big_w = photo.shape[:2]
    sx, sy = big_w / w, big_h / h
    old = mesh.texture
    old_h, old_w = old.shape[:2]
    ph, pw = h + 2 * margin, w + 2 * margin  # the photo region of the working atlas
    if old_w != max(pw, CELL) or old_h < ph:
        raise AssertionError(f"unexpected atlas {old_w}x{old_h} for a {pw}x{ph} photo region")
    has_tiles = old_h > ph
    tiles_top = layout((ph, pw), 1).tiles_top if has_tiles else old_h
    big_margin = math.ceil(margin * max(sx, sy))
    rh, rw = big_h + 2 * big_margin, big_w + 2 * big_margin
    # The frame margin holds the continued background (pipeline.ldi.border), smooth by nature:
    # scaled up from the working atlas; the photo itself goes in at full resolution.
    region = cv2.resize(old[:ph, :pw], (rw, rh), interpolation=cv2.INTER_LINEAR)
    region[big_margin : big_margin + big_h, big_margin : big_margin + big_w] = photo[..., :3]
    new_w = max(rw, old_w, CELL)
    new_top = layout((rh, rw), 1).tiles_top if has_tiles else rh
    new_h = new_top + (old_h - tiles_top)
    texture = np.empty((new_h, new_w) + old.shape[2:], old.dtype)
    texture[:rh, :rw] = region
    # Continue the photo's edges into the unused area so mips never pull in black (as
    # atlas.build_atlas does).
    texture[rh:new_top, :rw] = region[rh - 1 : rh]
    texture[:new_top, rw:] = texture[:new_top, rw - 1 : rw]
    if has_tiles:
        # The tiles and the backdrop band keep their texels (and the atlas's full width).
        texture[new_top:, :old_w] = old[tiles_top:]
        texture[new_top:, old_w:] = old[tiles_top:, old_w - 1 : old_w]
    del region

    u = mesh.uvs[:, 0].astype(np.float64) * old_w
    t = (1.0 - mesh.uvs[:, 1].astype(np.float64)) * old_h
    in_photo = t < ph + PAD  # tile texels start PAD below tiles_top >= ph + PAD
    u = np.where(in_photo, (u - margin) * sx + big_margin, u)
    t = np.where(in_photo, (t - margin) * sy + big_margin, t + (new_top - tiles_top))
    uvs = np.empty_like(mesh.uvs)
    uvs[:, 0] = u / new_w
    uvs[:, 1] = 1.0 - t / new_h
    mesh.uvs = uvs
    mesh.texture = texture
