"""Depth Anything V2: the official checkpoint layout, loading through weights_only, the
official preprocessing sizes, and a forward pass with random weights."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="Depth Anything V2 runs in torch")

from pipeline.depth import depth_anything_v2 as dav2  # noqa: E402
from pipeline.depth.registry import BACKENDS  # noqa: E402
from pipeline.errors import ModelError, SettingsError  # noqa: E402
from pipeline.io.image_io import Photo  # noqa: E402
from pipeline.runtime import models  # noqa: E402
from pipeline.settings import PipelineSettings  # noqa: E402

# (embed dim, blocks, DPT features, DPT out channels) of the official checkpoints.
LAYOUTS = {
    "vits": (384, 12, 64, (48, 96, 192, 384)),
    "vitb": (768, 12, 128, (96, 192, 384, 768)),
    "vitl": (1024, 24, 256, (256, 512, 1024, 1024)),
}


def official_keys(blocks: int) -> set[str]:
    """Tensor names of an official depth_anything_v2_vit?.pth, written out from its layout."""
    keys = {
        "pretrained.cls_token",
        "pretrained.pos_embed",
        "pretrained.mask_token",
        "pretrained.patch_embed.proj.weight",
        "pretrained.patch_embed.proj.bias",
        "pretrained.norm.weight",
        "pretrained.norm.bias",
    }
    for i in range(blocks):
        for part in ("norm1", "attn.qkv", "attn.proj", "norm2", "mlp.fc1", "mlp.fc2"):
            keys |= {f"pretrained.blocks.{i}.{part}.weight", f"pretrained.blocks.{i}.{part}.bias"}
        keys |= {f"pretrained.blocks.{i}.ls1.gamma", f"pretrained.blocks.{i}.ls2.gamma"}
    head = "depth_head."
    for i in range(4):
        keys |= {f"{head}projects.{i}.weight", f"{head}projects.{i}.bias"}
        keys.add(f"{head}scratch.layer{i + 1}_rn.weight")  # no bias
        for unit in ("resConfUnit1", "resConfUnit2"):
            for conv in ("conv1", "conv2"):
                for t in ("weight", "bias"):
                    keys.add(f"{head}scratch.refinenet{i + 1}.{unit}.{conv}.{t}")
        keys |= {f"{head}scratch.refinenet{i + 1}.out_conv.{t}" for t in ("weight", "bias")}
    for i in (0, 1, 3):  # resize_layers.2 is an identity
        keys |= {f"{head}resize_layers.{i}.weight", f"{head}resize_layers.{i}.bias"}
    for conv in ("output_conv1", "output_conv2.0", "output_conv2.2"):
        keys |= {f"{head}scratch.{conv}.weight", f"{head}scratch.{conv}.bias"}
    return keys


def test_small_has_the_official_239_keys_and_shapes() -> None:
    state = dav2.build_model("vits").state_dict()
    assert len(state) == 239
    assert set(state) == official_keys(12)
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    assert shapes["pretrained.pos_embed"] == (1, 37 * 37 + 1, 384)
    assert shapes["pretrained.patch_embed.proj.weight"] == (384, 3, 14, 14)
    assert shapes["pretrained.blocks.0.attn.qkv.weight"] == (1152, 384)
    assert shapes["pretrained.blocks.11.mlp.fc1.weight"] == (1536, 384)
    assert shapes["pretrained.mask_token"] == (1, 384)
    assert shapes["depth_head.projects.0.weight"] == (48, 384, 1, 1)
    assert shapes["depth_head.resize_layers.0.weight"] == (48, 48, 4, 4)
    assert shapes["depth_head.resize_layers.3.weight"] == (384, 384, 3, 3)
    assert shapes["depth_head.scratch.layer4_rn.weight"] == (64, 384, 3, 3)
    assert shapes["depth_head.scratch.output_conv1.weight"] == (32, 64, 3, 3)
    assert shapes["depth_head.scratch.output_conv2.0.weight"] == (32, 32, 3, 3)
    assert shapes["depth_head.scratch.output_conv2.2.weight"] == (1, 32, 1, 1)
    # 99,218,434 bytes on disk: 24.8 M float32 parameters plus the zip container.
    params = sum(v.numel() for v in state.values())
    assert 24_700_000 < params < 99_218_434 / 4


@pytest.mark.parametrize("encoder", ["vitb", "vitl"])
def test_base_and_large_layouts(encoder: str) -> None:
    dim, blocks, features, out_channels = LAYOUTS[encoder]
    with torch.device("meta"):  # shapes only: no memory for 100-300 M parameters
        state = dav2.build_model(encoder).state_dict()
    assert set(state) == official_keys(blocks)
    assert tuple(state["pretrained.pos_embed"].shape) == (1, 1370, dim)
    for i, c in enumerate(out_channels):
        assert tuple(state[f"depth_head.projects.{i}.weight"].shape) == (c, dim, 1, 1)
    assert tuple(state["depth_head.scratch.layer1_rn.weight"].shape)[0] == features


@pytest.mark.parametrize(
    "hw, expected",
    [
        ((768, 1024), (518, 686)),  # 4:3 landscape: 1024 * 518 / 768 = 690.7 -> 49 * 14
        ((1080, 1920), (518, 924)),  # 16:9: 920.9 -> 66 * 14
        ((1024, 768), (686, 518)),
        ((518, 518), (518, 518)),
        ((50, 100), (518, 1036)),  # small photos are enlarged: 518 is a lower bound
        ((4000, 3000), (686, 518)),  # 690.7 -> 686
        ((3000, 3005), (518, 518)),  # 518.86 rounds to 518
    ],
)
def test_network_size_follows_the_official_resize(
    hw: tuple[int, int], expected: tuple[int, int]
) -> None:
    rows, cols = dav2.network_size(*hw)
    assert (rows, cols) == expected
    assert rows % 14 == 0 and cols % 14 == 0 and min(rows, cols) >= 518


def test_preprocess_normalises_with_imagenet_statistics() -> None:
    rgb = np.full((60, 80, 3), 128, np.uint8)
    x = dav2.preprocess(rgb)
    assert x.shape == (1, 3, 518, 686) and x.dtype == np.float32
    expected = (128 / 255 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(x[0, :, 100, 100], expected, atol=1e-5)
    # 16-bit photos give the same input as their 8-bit version.
    x16 = dav2.preprocess(rgb.astype(np.uint16) * 257)
    np.testing.assert_allclose(x16, x, atol=1e-5)


@pytest.fixture(scope="module")
def random_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An official-layout Small checkpoint with random (but deterministic) weights."""
    gen = torch.Generator().manual_seed(0)
    model = dav2.build_model("vits")
    state = {}
    for key, value in model.state_dict().items():
        noise = torch.randn(value.shape, generator=gen) * (0.05 if value.ndim > 1 else 0.2)
        if key.endswith(("norm1.weight", "norm2.weight", "norm.weight", "gamma")):
            noise += 1.0
        state[key] = noise
    path = tmp_path_factory.mktemp("dav2") / "depth_anything_v2_vits.pth"
    torch.save(state, path)  # a plain state_dict, like the official file
    return path


def test_random_checkpoint_loads_and_predicts(random_checkpoint: Path) -> None:
    model = dav2.load_model(random_checkpoint, "vits", "cpu")
    assert dav2.load_model(random_checkpoint, "vits", "cpu") is model  # cached
    saved = torch.load(random_checkpoint, weights_only=True)
    for key, value in model.state_dict().items():
        assert torch.equal(value, saved[key]), key
    rgb = (np.random.default_rng(1).random((45, 60, 3)) * 255).astype(np.uint8)
    out = dav2.predict(model, rgb, input_size=182)  # small grid keeps the test quick
    assert out.shape == dav2.network_size(45, 60, 182) == (182, 238)
    assert out.dtype == np.float32 and np.isfinite(out).all() and (out >= 0).all()
    assert out.std() > 0  # not a constant map
    np.testing.assert_array_equal(out, dav2.predict(model, rgb, input_size=182))


def test_position_embedding_resampling(random_checkpoint: Path) -> None:
    net = dav2.load_model(random_checkpoint, "vits", "cpu").pretrained
    assert net.position_embedding(37, 37) is net.pos_embed  # the trained grid as stored
    pos = net.position_embedding(13, 17)
    assert tuple(pos.shape) == (1, 1 + 13 * 17, 384)
    assert torch.equal(pos[:, 0], net.pos_embed[:, 0])  # class token's embedding untouched


def test_wrong_checkpoints_are_refused(random_checkpoint: Path, tmp_path: Path) -> None:
    state = torch.load(random_checkpoint, weights_only=True)
    del state["pretrained.blocks.3.ls1.gamma"]
    torch.save(state, tmp_path / "missing.pth")
    with pytest.raises(ModelError, match="not a Depth Anything V2 vits checkpoint"):
        dav2.load_model(tmp_path / "missing.pth")
    state = torch.load(random_checkpoint, weights_only=True)
    state["depth_head.projects.0.weight"] = torch.zeros(96, 384, 1, 1)
    torch.save(state, tmp_path / "shape.pth")
    with pytest.raises(ModelError, match="does not fit"):
        dav2.load_model(tmp_path / "shape.pth")
    with pytest.raises(ModelError, match="does not exist"):
        dav2.load_model(tmp_path / "absent.pth")


def test_backends_are_registered_with_licences() -> None:
    small = BACKENDS["depth-anything-v2-small"]
    assert small.needs_torch and "Apache-2.0" in small.licence
    assert small.models == ("depth_anything_v2_vits",)
    for name in ("depth-anything-v2-base", "depth-anything-v2-large"):
        assert "non-commercial" in BACKENDS[name].label
        assert "CC-BY-NC-4.0" in BACKENDS[name].licence


def test_estimate_through_the_model_manager(
    random_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pin the catalogue entry to the random file so the manager's sha256 check passes.
    data = random_checkpoint.read_bytes()
    info = models.CATALOGUE["depth_anything_v2_vits"]
    pinned = models.ModelInfo(
        **{**info.__dict__, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    )
    monkeypatch.setitem(models.CATALOGUE, info.name, pinned)
    monkeypatch.setenv(models.MODEL_DIR_ENV, str(random_checkpoint.parent))
    rgb = (np.random.default_rng(2).random((30, 40, 3)) * 255).astype(np.uint8)
    photo = Photo(str(tmp_path / "none.png"), rgb, None, None, 1)
    settings = PipelineSettings(
        depth_backend="depth-anything-v2-small", extras={"depth_input_size": 168}
    )
    native = dav2.estimate_native(photo, settings)
    assert native.shape == (168, 224)
    full = BACKENDS["depth-anything-v2-small"].estimate(photo, settings)
    assert full.shape == (30, 40) and full.dtype == np.float32 and np.isfinite(full).all()
    np.testing.assert_array_equal(full, dav2.estimate(photo, settings))
    # Without a trusted file the backend says how to get one.
    monkeypatch.setitem(models.CATALOGUE, info.name, info)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(ModelError, match="damaged or not the official"):
        dav2.estimate_native(photo, settings)
    with pytest.raises(SettingsError, match="depth_input_size"):
        dav2.estimate_native(photo, PipelineSettings(extras={"depth_input_size": 500}))
