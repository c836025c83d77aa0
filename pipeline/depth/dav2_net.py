"""Depth Anything V2 network (DINOv2 ViT encoder + DPT head) in plain torch.

Written for this project from the published architecture. Module and parameter names follow
the official checkpoints exactly (``pretrained.*`` for the encoder, ``depth_head.*`` for the
head; 239 tensors for ViT-S), so ``load_state_dict(strict=True)`` on an official
``depth_anything_v2_vit?.pth`` works without renaming.

This module imports torch at the top; it is imported only when a Depth Anything backend runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

PATCH = 14
# The checkpoints' position embeddings are for 518 x 518 px, i.e. a 37 x 37 patch grid.
PRETRAIN_GRID = 37


@dataclass(frozen=True)
class EncoderConfig:
    embed_dim: int
    depth: int
    heads: int
    features: int  # DPT head width
    out_channels: tuple[int, int, int, int]  # per tapped layer, after projection
    taps: tuple[int, int, int, int]  # transformer blocks whose outputs feed the head


CONFIGS: dict[str, EncoderConfig] = {
    "vits": EncoderConfig(384, 12, 6, 64, (48, 96, 192, 384), (2, 5, 8, 11)),
    "vitb": EncoderConfig(768, 12, 12, 128, (96, 192, 384, 768), (2, 5, 8, 11)),
    "vitl": EncoderConfig(1024, 24, 16, 256, (256, 512, 1024, 1024), (4, 11, 17, 23)),
}


# --- DINOv2 encoder -----------------------------------------------------------------------------


class PatchEmbed(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=PATCH, stride=PATCH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, rows*cols, dim), row-major


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        # Softmax(q k^T / sqrt(d)) v; the fused kernel computes the same thing with less memory.
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class LayerScale(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()  # exact (erf) GELU, as trained
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, dim * 4)
        self.ls2 = LayerScale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class DinoV2(nn.Module):
    """ViT with a class token, no register tokens, learned position embeddings for 37 x 37
    patches that are resampled (bicubic) to the input's patch grid."""

    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        dim = cfg.embed_dim
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, PRETRAIN_GRID * PRETRAIN_GRID + 1, dim))
        # Unused at inference (masked pretraining) but part of the checkpoint.
        self.mask_token = nn.Parameter(torch.zeros(1, dim))
        self.patch_embed = PatchEmbed(dim)
        self.blocks = nn.ModuleList(Block(dim, cfg.heads) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def position_embedding(self, rows: int, cols: int) -> torch.Tensor:
        if rows == PRETRAIN_GRID and cols == PRETRAIN_GRID:
            return self.pos_embed
        cls_pos, grid_pos = self.pos_embed[:, :1], self.pos_embed[:, 1:]
        dim = grid_pos.shape[-1]
        grid_pos = grid_pos.float().reshape(1, PRETRAIN_GRID, PRETRAIN_GRID, dim)
        # As trained: resample by a scale factor of (n + 0.1) / 37 rather than to a size. The
        # +0.1 keeps floor(37 * scale) == n despite rounding, and torch maps sample positions
        # with the given scale factor, so this exact call reproduces the trained behaviour.
        scale = ((rows + 0.1) / PRETRAIN_GRID, (cols + 0.1) / PRETRAIN_GRID)
        grid_pos = F.interpolate(
            grid_pos.permute(0, 3, 1, 2), scale_factor=scale, mode="bicubic", antialias=False
        )
        if grid_pos.shape[-2:] != (rows, cols):
            raise AssertionError(f"position grid {tuple(grid_pos.shape[-2:])} != {(rows, cols)}")
        grid_pos = grid_pos.permute(0, 2, 3, 1).reshape(1, rows * cols, dim)
        return torch.cat((cls_pos, grid_pos.to(cls_pos.dtype)), dim=1)

    def tapped_features(self, x: torch.Tensor, taps: tuple[int, ...]) -> list[torch.Tensor]:
        """Layer-normed patch tokens (class token dropped) after each block in ``taps``."""
        rows, cols = x.shape[-2] // PATCH, x.shape[-1] // PATCH
        tokens = self.patch_embed(x)
        tokens = torch.cat((self.cls_token.expand(tokens.shape[0], -1, -1), tokens), dim=1)
        tokens = tokens + self.position_embedding(rows, cols)
        out = []
        for i, block in enumerate(self.blocks):
            tokens = block(tokens)
            if i in taps:
                out.append(self.norm(tokens)[:, 1:])
            if i >= max(taps):
                break  # later blocks do not feed the head
        return out


# --- DPT head ------------------------------------------------------------------------------------


class ResidualConvUnit(nn.Module):
    def __init__(self, features: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, 3, padding=1)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class FusionBlock(nn.Module):
    """Adds the skip input (after a residual unit), refines, upsamples, projects."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.out_conv = nn.Conv2d(features, features, 1)
        self.resConfUnit1 = ResidualConvUnit(features)  # noqa: N815 (checkpoint name)
        self.resConfUnit2 = ResidualConvUnit(features)  # noqa: N815

    def forward(
        self, x: torch.Tensor, skip: torch.Tensor | None = None, size: tuple[int, int] | None = None
    ) -> torch.Tensor:
        if skip is not None:
            x = x + self.resConfUnit1(skip)
        x = self.resConfUnit2(x)
        if size is None:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        else:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
        return self.out_conv(x)


class Scratch(nn.Module):
    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        f, oc = cfg.features, cfg.out_channels
        self.layer1_rn = nn.Conv2d(oc[0], f, 3, padding=1, bias=False)
        self.layer2_rn = nn.Conv2d(oc[1], f, 3, padding=1, bias=False)
        self.layer3_rn = nn.Conv2d(oc[2], f, 3, padding=1, bias=False)
        self.layer4_rn = nn.Conv2d(oc[3], f, 3, padding=1, bias=False)
        self.refinenet1 = FusionBlock(f)
        self.refinenet2 = FusionBlock(f)
        self.refinenet3 = FusionBlock(f)
        self.refinenet4 = FusionBlock(f)
        self.output_conv1 = nn.Conv2d(f, f // 2, 3, padding=1)
        # Indices 0 and 2 hold weights in the checkpoint; 1, 3 are ReLUs, 4 a no-op.
        self.output_conv2 = nn.Sequential(
            nn.Conv2d(f // 2, 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 1, 1),
            nn.ReLU(),
            nn.Identity(),
        )


class DPTHead(nn.Module):
    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        dim, oc = cfg.embed_dim, cfg.out_channels
        self.projects = nn.ModuleList(nn.Conv2d(dim, c, 1) for c in oc)
        # Four scales from one token grid: x4, x2, x1, x0.5.
        self.resize_layers = nn.ModuleList(
            [
                nn.ConvTranspose2d(oc[0], oc[0], kernel_size=4, stride=4),
                nn.ConvTranspose2d(oc[1], oc[1], kernel_size=2, stride=2),
                nn.Identity(),
                nn.Conv2d(oc[3], oc[3], kernel_size=3, stride=2, padding=1),
            ]
        )
        self.scratch = Scratch(cfg)

    def forward(self, feats: list[torch.Tensor], rows: int, cols: int) -> torch.Tensor:
        maps = []
        for i, tokens in enumerate(feats):
            x = tokens.permute(0, 2, 1).reshape(tokens.shape[0], tokens.shape[-1], rows, cols)
            maps.append(self.resize_layers[i](self.projects[i](x)))
        s = self.scratch
        l1, l2, l3, l4 = (
            s.layer1_rn(maps[0]),
            s.layer2_rn(maps[1]),
            s.layer3_rn(maps[2]),
            (s.layer4_rn(maps[3])),
        )
        path = s.refinenet4(l4, size=tuple(l3.shape[2:]))
        path = s.refinenet3(path, l3, size=tuple(l2.shape[2:]))
        path = s.refinenet2(path, l2, size=tuple(l1.shape[2:]))
        path = s.refinenet1(path, l1)
        out = s.output_conv1(path)
        out = F.interpolate(out, (rows * PATCH, cols * PATCH), mode="bilinear", align_corners=True)
        return s.output_conv2(out)


class DepthAnythingV2(nn.Module):
    def __init__(self, encoder: str = "vits") -> None:
        super().__init__()
        if encoder not in CONFIGS:
            raise ValueError(f"encoder must be one of {', '.join(CONFIGS)}, not {encoder!r}")
        self.encoder = encoder
        self.cfg = CONFIGS[encoder]
        self.pretrained = DinoV2(self.cfg)
        self.depth_head = DPTHead(self.cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised RGB, H and W multiples of 14 -> (B, H, W) relative
        disparity (>= 0, larger = nearer)."""
        if x.shape[-2] % PATCH or x.shape[-1] % PATCH:
            raise ValueError(f"input {tuple(x.shape[-2:])} is not a multiple of {PATCH}")
        rows, cols = x.shape[-2] // PATCH, x.shape[-1] // PATCH
        feats = self.pretrained.tapped_features(x, self.cfg.taps)
        return F.relu(self.depth_head(feats, rows, cols)).squeeze(1)
