"""Tiefenrausch: the Caffe2 NetDef reader, the graph loader, the QNNPACK arithmetic and the
two torch backends against the official output for pumpkin.jpg."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.depth import BACKENDS
from pipeline.depth import caffe2_netdef as nd
from pipeline.depth import tiefenrausch as tr
from pipeline.depth import tiefenrausch_exact as te
from pipeline.depth import tiefenrausch_graph as tg
from pipeline.errors import ModelError

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / ".." / "shared" / "reference"
TR = REFERENCE / "tiefenrausch"
NET = TR / "tiefenrausch.pb"
INIT = TR / "tiefenrausch_init.pb"
HAVE_FILES = NET.is_file() and INIT.is_file()
needs_files = pytest.mark.skipif(
    not HAVE_FILES, reason=f"official Tiefenrausch files not present in {TR}"
)
needs_pumpkin = pytest.mark.skipif(
    not (HAVE_FILES and (TR / "pumpkin.npy").is_file() and (TR / "pumpkin.jpg").is_file()),
    reason=f"official pumpkin.jpg / pumpkin.npy not present in {TR}",
)
OUTPUT_STEP = 0.018744077533483505  # the net's output scale: one code in log-disparity


# --- a protobuf description of the Caffe2 messages, to write test files and to cross-check ---


def _caffe2_classes() -> dict[str, Any]:
    """Message classes for the subset of caffe2.proto the reader handles, built at run time
    with the protobuf package (field numbers from caffe2/proto/caffe2.proto)."""
    from google.protobuf import descriptor_pb2
    from helpers import proto_classes

    F = descriptor_pb2.FieldDescriptorProto
    messages: list[tuple[str, list[tuple[str, int, int, bool, str]]]] = []

    def message(name: str, fields: list[tuple[str, int, int, bool, str]]) -> None:
        messages.append((name, fields))

    message(
        "Argument",
        [
            ("name", 1, F.TYPE_STRING, False, ""),
            ("f", 2, F.TYPE_FLOAT, False, ""),
            ("i", 3, F.TYPE_INT64, False, ""),
            ("s", 4, F.TYPE_BYTES, False, ""),
            ("floats", 5, F.TYPE_FLOAT, True, ""),
            ("ints", 6, F.TYPE_INT64, True, ""),
            ("strings", 7, F.TYPE_BYTES, True, ""),
        ],
    )
    message("DeviceOption", [("device_type", 1, F.TYPE_INT32, False, "")])
    message(
        "OperatorDef",
        [
            ("input", 1, F.TYPE_STRING, True, ""),
            ("output", 2, F.TYPE_STRING, True, ""),
            ("name", 3, F.TYPE_STRING, False, ""),
            ("type", 4, F.TYPE_STRING, False, ""),
            ("arg", 5, F.TYPE_MESSAGE, True, "Argument"),
            ("device_option", 6, F.TYPE_MESSAGE, False, "DeviceOption"),  # unknown to us
            ("engine", 7, F.TYPE_STRING, False, ""),
            ("is_gradient_op", 9, F.TYPE_BOOL, False, ""),  # unknown to us
            ("debug_score", 15, F.TYPE_DOUBLE, False, ""),  # not caffe2: a 64-bit field
        ],
    )
    message(
        "NetDef",
        [
            ("name", 1, F.TYPE_STRING, False, ""),
            ("op", 2, F.TYPE_MESSAGE, True, "OperatorDef"),
            ("type", 3, F.TYPE_STRING, False, ""),
            ("num_workers", 4, F.TYPE_INT32, False, ""),  # unknown to us
            ("arg", 6, F.TYPE_MESSAGE, True, "Argument"),  # unknown to us
            ("external_input", 7, F.TYPE_STRING, True, ""),
            ("external_output", 8, F.TYPE_STRING, True, ""),
        ],
    )
    return proto_classes("c2test", messages, ("Argument", "OperatorDef", "NetDef"))


def _canonical_pb(net: Any) -> tuple[Any, ...]:
    def arg(a: Any) -> tuple[Any, ...]:
        return (
            a.f if a.HasField("f") else None,
            a.i if a.HasField("i") else None,
            a.s if a.HasField("s") else None,
            list(a.floats),
            list(a.ints),
            list(a.strings),
        )

    ops = [
        (o.type, list(o.input), list(o.output), o.name, o.engine, {a.name: arg(a) for a in o.arg})
        for o in net.op
    ]
    return net.name, net.type, ops, list(net.external_input), list(net.external_output)


def _canonical_ours(net: nd.NetDef) -> tuple[Any, ...]:
    def arg(a: nd.Argument) -> tuple[Any, ...]:
        return (a.f, a.i, a.s, a.floats, a.ints, a.strings)

    ops = [
        (o.type, o.inputs, o.outputs, o.name, o.engine, {k: arg(a) for k, a in o.args.items()})
        for o in net.ops
    ]
    return net.name, net.type, ops, net.external_input, net.external_output


def _sample_net() -> bytes:
    c = _caffe2_classes()
    net = c["NetDef"](name="sample", type="simple", num_workers=4)
    net.external_input.extend(["0", "w"])
    net.external_output.append("y")
    op = net.op.add(type="Int8Conv", name="conv", engine="QNNPACK", is_gradient_op=False)
    op.input.extend(["0", "w", "b"])
    op.output.append("y")
    op.device_option.device_type = 1
    op.debug_score = 2.5
    op.arg.add(name="kernels", ints=[3, 3])
    op.arg.add(name="bias", i=-65021)  # a negative int64: a ten-byte varint
    op.arg.add(name="Y_scale", f=0.015702897682785988)
    op.arg.add(name="order", s=b"NHWC")
    op.arg.add(name="values", s=bytes(range(256)))
    op.arg.add(name="scales", floats=[0.5, -1.25])
    op.arg.add(name="names", strings=[b"a", b"bc"])
    net.arg.add(name="ignored", i=1)
    return bytes(net.SerializeToString())


# --- the wire-format reader ---------------------------------------------------------------


def test_reader_matches_protobuf_on_a_sample(tmp_path: Path) -> None:
    data = _sample_net()
    path = tmp_path / "net.pb"
    path.write_bytes(data)
    ours = nd.read_netdef(path)
    theirs = _caffe2_classes()["NetDef"].FromString(data)
    assert _canonical_ours(ours) == _canonical_pb(theirs)
    op = ours.ops[0]
    assert op.arg("bias") == -65021 and op.arg("kernels") == [3, 3]
    assert op.arg("order") == b"NHWC" and op.arg("missing", 7) == 7
    assert op.arg("Y_scale") == pytest.approx(0.015702897682785988, rel=1e-7)


def test_reader_accepts_packed_repeated_scalars() -> None:
    # Argument{name: "p", ints: [1, -2, 300] packed, floats: [1.5] packed}
    ints = b"\x01" + b"\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01" + b"\xac\x02"
    floats = np.float32(1.5).tobytes()
    arg = b"\x0a\x01p" + b"\x32" + bytes([len(ints)]) + ints + b"\x2a\x04" + floats
    op = b"\x22\x01X" + b"\x2a" + bytes([len(arg)]) + arg
    net = nd.parse_netdef_bytes(b"\x12" + bytes([len(op)]) + op)
    a = net.ops[0].args["p"]
    assert a.ints == [1, -2, 300] and a.floats == [1.5]


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"\x12\x05\x22\x01X", "past the end"),  # op claims 5 bytes, 3 follow
        (b"\x12\x03\x22\x05X", "past the end"),  # nested string longer than its op
        (b"\x12\x02\x22", "truncated"),  # ends inside a nested key/length
        (b"\x08" + b"\xff" * 11, "varint"),  # a varint that never ends
        (b"\x0b", "wire type 3"),  # groups are not caffe2
        (b"\x12\x01\x08", "truncated varint"),
        (b"\x10\x01", "wire type 0"),  # NetDef.op (field 2) as a varint
        (b"\x0a\x02\xff\xfe", "UTF-8"),  # NetDef.name that is not text
        (b"\x15\x00\x00", "32-bit"),
        (b"\x00", "field number 0"),
    ],
)
def test_malformed_bytes_raise_modelerror_naming_the_file(
    tmp_path: Path, data: bytes, reason: str
) -> None:
    path = tmp_path / "broken.pb"
    path.write_bytes(data)
    with pytest.raises(ModelError) as e:
        nd.read_netdef(path)
    assert str(path) in str(e.value) and reason in str(e.value)


def test_missing_and_empty_files_raise_modelerror(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        nd.read_netdef(tmp_path / "absent.pb")
    empty = tmp_path / "empty.pb"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match="no Caffe2 operators") as e:
        nd.read_netdef(empty)
    assert str(empty) in str(e.value)


def test_every_truncation_of_a_sample_is_an_error_or_a_shorter_net() -> None:
    data = _sample_net()
    full = nd.parse_netdef_bytes(data)
    for cut in range(len(data)):
        try:
            net = nd.parse_netdef_bytes(data[:cut])
        except ValueError:
            continue  # a clean error: what read_netdef turns into ModelError
        # Cut on a field boundary of the outer message: a valid message, but a smaller one.
        assert len(net.ops) < len(full.ops) or net.external_output != full.external_output


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_never_raise_anything_but_valueerror(data: bytes) -> None:
    try:
        nd.parse_netdef_bytes(data)
    except ValueError:
        pass


_names = st.text(max_size=8)
_args = st.dictionaries(
    st.text(min_size=1, max_size=6),
    st.one_of(
        st.builds(lambda v: {"i": v}, st.integers(-(2**63), 2**63 - 1)),
        st.builds(lambda v: {"f": v}, st.floats(width=32, allow_nan=False)),
        st.builds(lambda v: {"s": v}, st.binary(max_size=20)),
        st.builds(lambda v: {"ints": v}, st.lists(st.integers(-(2**63), 2**63 - 1), max_size=5)),
        st.builds(lambda v: {"floats": v}, st.lists(st.floats(width=32, allow_nan=False))),
    ),
    max_size=4,
)
_ops = st.lists(
    st.tuples(_names, st.lists(_names, max_size=3), st.lists(_names, max_size=2), _args),
    max_size=4,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_names, _ops, st.lists(_names, max_size=3))
def test_reader_round_trips_protobuf_written_nets(name: str, ops: list, inputs: list) -> None:
    c = _caffe2_classes()
    net = c["NetDef"](name=name)
    net.external_input.extend(inputs)
    for op_type, ins, outs, args in ops:
        op = net.op.add(type=op_type)
        op.input.extend(ins)
        op.output.extend(outs)
        for arg_name, fields in args.items():
            op.arg.add(name=arg_name, **fields)
    data = net.SerializeToString()
    assert _canonical_ours(nd.parse_netdef_bytes(data)) == _canonical_pb(net)


# --- the official files -------------------------------------------------------------------


@needs_files
def test_official_files_parse_like_protobuf_does() -> None:
    classes = _caffe2_classes()
    for path in (NET, INIT):
        ours = nd.read_netdef(path)
        theirs = classes["NetDef"].FromString(path.read_bytes())
        assert _canonical_ours(ours) == _canonical_pb(theirs), path


@needs_files
def test_official_graph_structure() -> None:
    net, init = nd.read_netdef(NET), nd.read_netdef(INIT)
    counts: dict[str, int] = {}
    for op in net.ops:
        counts[op.type] = counts.get(op.type, 0) + 1
    assert counts == {
        "NCHW2NHWC": 1,
        "Int8Quantize": 1,
        "Int8Conv": 146,
        "Int8Add": 39,
        "Int8ResizeNearest": 5,
        "Int8Dequantize": 1,
    }
    assert net.external_input[0] == "0" and net.external_output == ["623"]
    assert len(init.ops) == 292
    graph = tg.build_graph(net, init, str(NET), str(INIT))
    convs = [s for s in graph.steps if isinstance(s, tg.QConv)]
    assert len(convs) == 146 and len(graph.steps) == 146 + 39 + 5
    assert sum(c.weight.size for c in convs) == 3_508_424
    assert {c.w_zp for c in convs} == {127, 128}
    assert graph.input_scale == pytest.approx(0.0077031273) and graph.input_zp == 128
    assert graph.output_qparams[1] == 128
    assert graph.output_qparams[0] == pytest.approx(OUTPUT_STEP, rel=1e-7)
    # The first conv sees RGB; Caffe2's [O, kH, kW, I] became torch's [O, I, kH, kW].
    assert convs[0].weight.shape == (48, 3, 3, 3) and convs[-1].weight.shape == (1, 32, 3, 3)
    # Depthwise convs: one input channel per group.
    assert all(c.weight.shape[1] == 1 for c in convs if c.groups > 1)


@needs_files
def test_truncated_or_corrupt_official_file_raises_modelerror(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="load_model builds the network in torch")
    data = INIT.read_bytes()
    cut = tmp_path / "tiefenrausch_init.pb"
    cut.write_bytes(data[: len(data) // 2])  # inside a weight blob
    with pytest.raises(ModelError) as e:
        tr.load_model(NET, cut)
    assert str(cut) in str(e.value)
    # Cut on an operator boundary: parses, but weights are missing -> names the init file.
    boundary = tmp_path / "boundary_init.pb"
    ops = nd.read_netdef(INIT).ops
    head = _caffe2_classes()["NetDef"].FromString(data)
    del head.op[len(ops) // 2 :]
    boundary.write_bytes(head.SerializeToString())
    with pytest.raises(ModelError, match="missing from the init net") as e:
        tr.load_model(NET, boundary)
    assert str(boundary) in str(e.value)
    # The two files swapped: the init net holds no graph operators.
    with pytest.raises(ModelError) as e:
        tr.load_model(INIT, NET)
    assert "not the Tiefenrausch network" in str(e.value)
    with pytest.raises(ModelError, match="does not exist"):
        tr.load_model(tmp_path / "absent.pb", INIT)


# --- preprocessing and arithmetic ---------------------------------------------------------


@pytest.mark.parametrize(
    "hw, expected",
    [
        ((1024, 768), (384, 288)),  # pumpkin (portrait)
        ((768, 1024), (288, 384)),
        ((1080, 1920), (192, 384)),  # 216 floored to 192
        ((500, 500), (384, 384)),
        ((100, 3000), (32, 384)),  # 12.8 -> 0, kept at one block
        ((3000, 2000), (384, 256)),
    ],
)
def test_network_size(hw: tuple[int, int], expected: tuple[int, int]) -> None:
    assert tg.network_size(*hw) == expected
    # The official script's formula (float division, int(), minus the remainder).
    h, w = hw
    nh, nw = (384, int(w * 384 / h)) if h > w else (int(h * 384 / w), 384)
    official = (nh - nh % 32, nw - nw % 32)
    assert official == expected or 0 in official


def test_preprocess_matches_the_official_quantize() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (100, 150, 3), dtype=np.uint8)
    q = tg.preprocess(rgb, 0.0077031273394823074, 128)
    assert q.shape == (1, 3, 256, 384) and q.dtype == np.uint8
    small = cv2.resize(rgb, (384, 256), interpolation=cv2.INTER_AREA)
    x = np.transpose(small / 255.0, (2, 0, 1))[None].astype(np.float32)  # the official input
    inv = np.float32(1.0) / np.float32(0.0077031273394823074)
    assert np.array_equal(q, np.clip(np.rint(x * inv) + 128, 0, 255).astype(np.uint8))
    assert q.max() == 255  # white saturates: 1.0 / scale + 128 > 255


def _qnnpack_q31_scalar(acc: int, multiplier: int, shift: int, zp: int) -> int:
    """A line-by-line transcription of QNNPACK's scalar q31 requantisation (int32/int64)."""
    product = acc * multiplier
    q31 = (((product + (1 << 30)) % (1 << 64)) >> 31) % (1 << 32)  # uint64 shift, to uint32
    q31 = q31 - (1 << 32) if q31 >= 1 << 31 else q31  # to int32
    mask = (1 << shift) - 1
    remainder = (q31 & mask) - int(q31 < 0)
    scaled = (q31 >> shift) + int(remainder > (mask >> 1))
    return min(255, max(0, scaled + zp))


def test_q31_params_known_values() -> None:
    assert te.q31_params(0.5) == (0x40000000, 0)
    assert te.q31_params(0.25) == (0x40000000, 1)
    multiplier, shift = te.q31_params(0.020375283)
    assert multiplier == 1400178816 and shift == 5
    with pytest.raises(ValueError):
        te.q31_params(1.5)


@settings(max_examples=40, deadline=None)
@given(
    st.floats(1e-6, 0.99),
    st.lists(
        st.one_of(st.integers(-(2**30), 2**30), st.integers(-5000, 5000)), min_size=1, max_size=50
    ),
    st.sampled_from([0, 127, 128, 255]),
)
def test_requantize_matches_qnnpack_scalar(scale: float, accs: list[int], zp: int) -> None:
    torch = pytest.importorskip("torch", reason="the exact runner computes in torch")

    multiplier, shift = te.q31_params(scale)
    ours = te.requantize_q31(torch.tensor(accs, dtype=torch.int64), multiplier, shift, zp)
    expected = [_qnnpack_q31_scalar(a, multiplier, shift, zp) for a in accs]
    assert ours.tolist() == expected
    # The float64 formulation the exact runner uses, wherever its precondition holds.
    exact_range = [(a, e) for a, e in zip(accs, expected, strict=True) if abs(a) < 1 << 28]
    if exact_range:
        a64 = torch.tensor([a for a, _ in exact_range], dtype=torch.float64)
        got = te.requantize_q31_f64(a64, multiplier, shift, zp)
        assert got.tolist() == [e for _, e in exact_range]


def test_requantize_rounds_twice_like_qnnpack() -> None:
    torch = pytest.importorskip("torch", reason="the exact runner computes in torch")

    # acc * scale = 24.491: one rounding gives 24; QNNPACK's rounding at bit 31 first lifts
    # it to exactly 24.5, which the rounding shift then takes away from zero: 25.
    multiplier, shift = te.q31_params(0.020375283)
    assert 1202 * 0.020375283 == pytest.approx(24.491, abs=1e-3)
    got = te.requantize_q31(torch.tensor([1202, -1202]), multiplier, shift, 0).tolist()
    assert got == [25, 0]  # and a negative value clamps to the uint8 floor
    got = te.requantize_q31(torch.tensor([-1202]), multiplier, shift, 128).tolist()
    assert got == [128 - 25]


def _qnnpack_add_scalar(a: int, b: int, za: int, zb: int, zy: int, s: tuple[int, int, int]) -> int:
    am, bm, shift = s
    zero_point_product = -(am * za + bm * zb)
    acc = zero_point_product + a * am + b * bm
    acc = (acc + (1 << 31)) % (1 << 32) - (1 << 31)  # int32 wrap, as in C
    mask = (1 << shift) - 1
    rem = (acc & mask) - int(acc < 0)
    acc = (acc >> shift) + int(rem > (mask >> 1))
    return min(255, max(0, acc + zy))


@settings(max_examples=30, deadline=None)
@given(
    st.floats(0.005, 0.2),
    st.floats(0.005, 0.2),
    st.floats(0.01, 0.2),
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 255),
)
def test_add_matches_qnnpack_scalar(
    sa: float, sb: float, sy: float, za: int, zb: int, zy: int
) -> None:
    torch = pytest.importorskip("torch", reason="the exact runner computes in torch")

    if not 2**-14 <= max(sa, sb) / sy < 256 or min(sa, sb) / sy < 2**-14:
        return  # QNNPACK refuses these ratios
    params = te.add_params(sa, sb, sy)
    assert max(params[0], params[1]) >= 1 << 21 and max(params[0], params[1]) < 1 << 22
    grid = torch.arange(0, 256, 5, dtype=torch.int64)
    a, b = torch.meshgrid(grid, grid.flip(0), indexing="ij")
    ours = te._exact_add(a, b, params, za, zb, zy)
    expected = [
        _qnnpack_add_scalar(int(x), int(y), za, zb, zy, params)
        for x, y in zip(a.ravel().tolist(), b.ravel().tolist(), strict=True)
    ]
    assert ours.ravel().tolist() == expected


def test_resize_to_photo_aligns_edges() -> None:
    # A ramp sampled at the grid's pixel centres must come back as the same ramp sampled at
    # the photo's pixel centres: no half-pixel shift, edges on edges.
    grid_h, grid_w, h, w = 8, 6, 32, 24
    ys = (np.arange(grid_h) + 0.5) / grid_h
    xs = (np.arange(grid_w) + 0.5) / grid_w
    disparity = (ys[:, None] + 2 * xs[None, :]).astype(np.float32)
    out = tg.resize_to_photo(disparity, h, w)
    assert out.shape == (h, w) and out.dtype == np.float32
    py = (np.arange(h) + 0.5) / h
    px = (np.arange(w) + 0.5) / w
    expected = py[:, None] + 2 * px[None, :]
    inner = (slice(2, -2), slice(2, -2))  # the outermost half grid cell is clamped
    assert np.abs(out[inner] - expected[inner]).max() < 1e-5


# --- registration and loading ---------------------------------------------------------------


def test_backends_are_registered() -> None:
    for name in ("tiefenrausch", "tiefenrausch-exact"):
        backend = BACKENDS[name]
        assert backend.licence == "MIT" and backend.needs_torch
        assert backend.models == ("tiefenrausch.pb", "tiefenrausch_init.pb")
    assert BACKENDS["tiefenrausch"].estimate is tr.estimate
    assert BACKENDS["tiefenrausch-exact"].estimate is tr.estimate_exact


def test_importing_the_module_does_not_import_torch() -> None:
    code = "import sys, pipeline.depth.tiefenrausch; assert 'torch' not in sys.modules"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@needs_files
def test_models_are_cached_per_mode() -> None:
    pytest.importorskip("torch", reason="Tiefenrausch runs in torch")
    a = tr.load_model(NET, INIT)
    assert tr.load_model(str(NET), str(INIT)) is a
    assert not a.exact
    b = tr.load_model(NET, INIT, exact=True)
    assert b.exact and b is not a
    assert tr.load_model(NET, INIT) is a and tr.load_model(NET, INIT, exact=True) is b
    with pytest.raises(ValueError, match="exact=True"):
        a.predict_codes(np.zeros((8, 8, 3), np.uint8))


@needs_files
def test_float_path_on_odd_sizes() -> None:
    pytest.importorskip("torch", reason="Tiefenrausch runs in torch")
    model = tr.load_model(NET, INIT)
    rng = np.random.default_rng(3)
    for shape in [(50, 70, 3), (641, 480, 3)]:
        rgb = rng.integers(0, 256, shape, dtype=np.uint8)
        disparity = model.predict(rgb)
        assert disparity.shape == tg.network_size(*shape[:2]) and disparity.dtype == np.float32
        assert np.isfinite(disparity).all() and (disparity > 0).all()
    with pytest.raises(ValueError, match="RGB"):
        model.predict(np.zeros((10, 10), np.uint8))


# --- fidelity against the official output -----------------------------------------------------


def _pumpkin() -> tuple[np.ndarray, np.ndarray]:
    # Read as the official script did: cv2.imread (BGR) -> RGB.
    rgb = cv2.cvtColor(cv2.imread(str(TR / "pumpkin.jpg")), cv2.COLOR_BGR2RGB)
    return rgb, np.load(TR / "pumpkin.npy")


@needs_pumpkin
def test_float_path_meets_the_reference_bar() -> None:
    pytest.importorskip("torch", reason="Tiefenrausch runs in torch")
    rgb, official = _pumpkin()
    ours = tr.load_model(NET, INIT).predict(rgb)
    assert ours.shape == official.shape == (384, 288) and ours.dtype == np.float32
    log_ours, log_official = np.log(ours.astype(np.float64)), np.log(official.astype(np.float64))
    corr = np.corrcoef(log_ours.ravel(), log_official.ravel())[0, 1]
    median_rel = float(np.median(np.abs(ours / official - 1)))
    assert corr >= 0.999, corr
    assert median_rel <= 0.01, median_rel


@needs_pumpkin
@pytest.mark.slow
def test_exact_mode_meets_the_reference_bar() -> None:
    pytest.importorskip("torch", reason="Tiefenrausch runs in torch")
    rgb, official = _pumpkin()
    model = tr.load_model(NET, INIT, exact=True)
    ours = model.predict(rgb)
    assert ours.shape == official.shape
    identical = float(np.mean(ours == official))  # bit for bit, float32 after exp
    steps = np.abs(np.log(ours.astype(np.float64)) - np.log(official.astype(np.float64)))
    within_one = float(np.mean(steps <= OUTPUT_STEP * 1.001))
    assert identical >= 0.60, identical
    assert within_one >= 0.97, within_one


@needs_pumpkin
def test_estimate_resizes_to_the_photo(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch", reason="Tiefenrausch runs in torch")
    from pipeline.io.image_io import read_photo
    from pipeline.settings import PipelineSettings

    photo = read_photo(TR / "pumpkin.jpg")
    settings_ = PipelineSettings(depth_backend="tiefenrausch", model_dir=str(TR))
    native = tr.estimate_native(photo, settings_)
    full = tr.estimate(photo, settings_)
    assert native.shape == (384, 288)
    assert full.shape == (photo.height, photo.width) == (1024, 768)
    assert full.dtype == np.float32
    assert np.allclose(full, tg.resize_to_photo(native, 1024, 768))


def _reference_conv_codes(q: np.ndarray, conv: tg.QConv, in_scale: float, in_zp: int) -> np.ndarray:
    """Int8Conv as QNNPACK computes it, in plain numpy int64 and the scalar requantisation."""
    x = np.pad(q.astype(np.int64) - in_zp, ((0, 0), (0, 0), (conv.pad,) * 2, (conv.pad,) * 2))
    w = conv.weight.astype(np.int64) - conv.w_zp
    o, i_per_group, kh, kw = w.shape
    n, c, hp, wp = x.shape
    oh, ow = (hp - kh) // conv.stride + 1, (wp - kw) // conv.stride + 1
    acc = np.zeros((n, o, oh, ow), np.int64)
    per_group = o // conv.groups
    for oc in range(o):
        g = oc // per_group
        for dy in range(kh):
            for dx in range(kw):
                patch = x[:, g * i_per_group : (g + 1) * i_per_group, dy:, dx:]
                patch = patch[
                    :, :, : oh * conv.stride : conv.stride, : ow * conv.stride : conv.stride
                ]
                acc[:, oc] += np.einsum("nchw,c->nhw", patch, w[oc, :, dy, dx])
    acc += conv.bias.astype(np.int64)[None, :, None, None]
    scale = np.float32(in_scale) * np.float32(conv.w_scale) / np.float32(conv.out_scale)
    multiplier, shift = te.q31_params(float(scale))
    flat = [_qnnpack_q31_scalar(int(a), multiplier, shift, conv.out_zp) for a in acc.ravel()]
    return np.array(flat, np.uint8).reshape(acc.shape)


@pytest.mark.parametrize("use_f32", [True, False])
@pytest.mark.parametrize(
    "cin, cout, k, stride, groups, w_zp, in_zp",
    [
        (864, 3, 1, 1, 1, 128, 128),  # K * max|w| * max|x| > 2**24: float32 needs the split
        (96, 96, 3, 2, 96, 127, 0),  # depthwise, stride 2, padded with the zero point
        (3, 8, 3, 1, 1, 128, 128),  # the first layer's shape
    ],
)
def test_exact_runner_conv_matches_integer_reference(
    monkeypatch: pytest.MonkeyPatch,
    use_f32: bool,
    cin: int,
    cout: int,
    k: int,
    stride: int,
    groups: int,
    w_zp: int,
    in_zp: int,
) -> None:
    pytest.importorskip("torch", reason="Tiefenrausch runs in torch")
    if use_f32 and not te._float32_conv_is_exact():
        pytest.skip("this torch's float32 CPU conv is not IEEE (bf16/tf32 maths enabled)")
    monkeypatch.setattr(te, "_float32_conv_is_exact", lambda: use_f32)
    rng = np.random.default_rng(cin + k)
    conv = tg.QConv(
        inp="x",
        out="y",
        weight=rng.integers(0, 256, (cout, cin // groups, k, k), dtype=np.uint8),
        w_zp=w_zp,
        w_scale=0.0025,
        bias=rng.integers(-70000, 70000, cout).astype(np.int32),
        stride=stride,
        pad=k // 2,
        groups=groups,
        out_scale=0.9 if k == 1 and cin > 100 else 0.05,
        out_zp=128,
    )
    in_scale = 0.0156
    graph = tg.QGraph("x", "y", in_scale, in_zp, [conv], {"x": (in_scale, in_zp), "y": (0.05, 128)})
    runner = te.ExactRunner(graph, "cpu")
    assert runner.use_f32 == use_f32
    q = rng.integers(0, 256, (1, cin, 7, 6), dtype=np.uint8)
    got = runner.run_codes(q)
    want = _reference_conv_codes(q, conv, in_scale, in_zp)
    assert got.shape == want.shape
    assert np.array_equal(got, want)
    # Mostly inside (0, 255) and spread out: the arithmetic, not the clamp, decides.
    assert np.mean((want > 0) & (want < 255)) > 0.5 and want.std() > 5


def test_split_weights_keep_float32_sums_exact() -> None:
    rng = np.random.default_rng(5)
    w = rng.integers(-128, 129, (4, 864, 1, 1))
    split, shift = te._split_weights(w, 255)
    assert shift > 0 and split.shape == (8, 864, 1, 1)
    hi, lo = split[:4], split[4:]
    assert np.array_equal(hi * (1 << shift) + lo, w)
    for part in (hi, lo):
        assert 864 * np.abs(part).max() * 255 < 1 << 24
    small, shift0 = te._split_weights(w[:, :9], 255)
    assert shift0 == 0 and np.array_equal(small, w[:, :9])


def test_unavailable_device_is_a_settings_error() -> None:
    torch = pytest.importorskip("torch", reason="Tiefenrausch runs in torch")
    from pipeline.errors import SettingsError

    if not torch.cuda.is_available():
        with pytest.raises(SettingsError, match="cuda"):
            tr.load_model(NET, INIT, device="cuda")
    with pytest.raises(SettingsError, match="tpu"):
        tr.load_model(NET, INIT, device="tpu")
