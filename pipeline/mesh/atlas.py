"""Texture atlas: layer 0 is the (margin-padded) photo itself; grown layers are packed as
fixed-size tiles below it.

Layout: the photo region occupies the top-left (its own pixels, no resampling). Below it, on
rows aligned to ``CELL``, come cells of ``CELL`` x ``CELL`` texels. Each cell holds one tile of
a grown layer: ``TILE + 1`` lattice positions per side (tiles share their boundary row/column,
which is duplicated so that every triangle lies inside one cell) at offset ``PAD``, surrounded
by the layer's own colour continued outward (the inpainter fills well beyond the grown
samples), never by another chart.

Bleed guarantee: cells sit on a ``CELL``-aligned grid, and every UV a triangle uses lies at
least ``PAD + 0.5`` texels inside its cell, so bilinear lookups at mip levels 0..3 (box-filtered
mips, as Blender generates them) read texels of the same cell only; Cycles samples textures
without mips. At level 4 and beyond (a tile minified 16x or more) texels of neighbouring
cells can mix - a surface that small covers a pixel or two on screen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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


def layout(photo_shape: tuple[int, int], n_tiles: int) -> AtlasLayout:
    h, w = photo_shape
    width = max(w, CELL)
    columns = width // CELL
    tiles_top = -(-(h + PAD) // CELL) * CELL if n_tiles else h
    rows = -(-n_tiles // columns) if n_tiles else 0
    return AtlasLayout(width, tiles_top + rows * CELL, tiles_top, columns)


def cell_origin(lay: AtlasLayout, cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Texel (row, column) of the top-left corner of each cell index."""
    return lay.tiles_top + (cell // lay.columns) * CELL, (cell % lay.columns) * CELL


def build_atlas(
    photo: np.ndarray, layer_colors: list[np.ndarray], tiles: list[np.ndarray]
) -> tuple[np.ndarray, AtlasLayout]:
    """Assemble the atlas texture. ``photo`` (H, W, 3) is layer 0's colour; ``layer_colors[i]``
    the dense colour of grown layer i+1 on the same lattice; ``tiles[i]`` its used tiles as
    (n, 2) (tile row, tile column). Cells are assigned in order: layer 1's tiles first."""
    h, w = photo.shape[:2]
    n_tiles = int(sum(t.shape[0] for t in tiles))
    lay = layout((h, w), n_tiles)
    texture = np.zeros((lay.height, lay.width, photo.shape[2]), photo.dtype)
    texture[:h, :w] = photo
    # Continue the photo's edges into the unused area so mips never pull in black.
    texture[h : lay.tiles_top, :w] = photo[h - 1 : h]
    texture[: lay.tiles_top, w:] = texture[: lay.tiles_top, w - 1 : w]
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
    texture[lay.tiles_top :, : lay.columns * CELL] = region
    if lay.columns * CELL < lay.width:
        texture[lay.tiles_top :, lay.columns * CELL :] = region[:, -1:]
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
