"""A minimal writer of ONNX models in the protobuf wire format, so that a network can be handed
to OpenCV's DNN module (``cv2.dnn.readNetFromONNX(buffer)``) without the ``onnx`` package.

Only what a plain feed-forward float graph needs is written: float32 initializers, nodes with
int / float / string / ints / floats attributes, and graph inputs and outputs with a static or
named shape. Field numbers are those of onnx/onnx.proto (IR version 7):

    ModelProto:         ir_version=1, producer_name=2, graph=7, opset_import=8
    OperatorSetIdProto: domain=1, version=2
    GraphProto:         node=1, name=2, initializer=5, input=11, output=12
    NodeProto:          input=1, output=2, name=3, op_type=4, attribute=5
    AttributeProto:     name=1, f=2, i=3, s=4, floats=7, ints=8, type=20
    TensorProto:        dims=1, data_type=2, name=8, raw_data=9
    ValueInfoProto:     name=1, type=2;  TypeProto: tensor_type=1
    TypeProto.Tensor:   elem_type=1, shape=2;  TensorShapeProto: dim=1
    Dimension:          dim_value=1, dim_param=2
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

IR_VERSION = 7
FLOAT = 1  # TensorProto.DataType
INT64 = 7
_ATTR_FLOAT, _ATTR_INT, _ATTR_STRING, _ATTR_FLOATS, _ATTR_INTS = 1, 2, 3, 6, 7
_DTYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.int64): INT64}

AttrValue = int | float | str | Sequence[int] | Sequence[float]


# --- wire format --------------------------------------------------------------------------


def varint(value: int) -> bytes:
    """Base-128 varint; negative values as 64-bit two's complement (ten bytes), as protobuf
    writes int64."""
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def _int(number: int, value: int) -> bytes:
    return _key(number, 0) + varint(int(value))


def _float(number: int, value: float) -> bytes:
    return _key(number, 5) + struct.pack("<f", value)


def _bytes(number: int, value: bytes) -> bytes:
    return _key(number, 2) + varint(len(value)) + value


def _str(number: int, value: str) -> bytes:
    return _bytes(number, value.encode("utf-8"))


# --- messages -----------------------------------------------------------------------------


def tensor(name: str, array: np.ndarray) -> bytes:
    """TensorProto with raw little-endian data (float32 or int64); a 0-d array is a scalar (no
    dims), as Clip wants its bounds."""
    array = np.asarray(array, order="C")  # ascontiguousarray would make a scalar 1-d
    dtype = _DTYPES.get(array.dtype)
    if dtype is None:
        raise TypeError(f"tensor {name!r}: dtype {array.dtype} is not supported")
    dims = b"".join(_int(1, d) for d in array.shape)
    raw = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
    return dims + _int(2, dtype) + _str(8, name) + _bytes(9, raw)


def attribute(name: str, value: AttrValue) -> bytes:
    out = _str(1, name)
    if isinstance(value, bool):
        raise TypeError(f"attribute {name!r}: use an int, not a bool")
    if isinstance(value, int):
        return out + _int(3, value) + _int(20, _ATTR_INT)
    if isinstance(value, float):
        return out + _float(2, value) + _int(20, _ATTR_FLOAT)
    if isinstance(value, str):
        return out + _str(4, value) + _int(20, _ATTR_STRING)
    values = list(value)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return out + b"".join(_int(8, v) for v in values) + _int(20, _ATTR_INTS)
    if all(isinstance(v, float) for v in values):
        return out + b"".join(_float(7, v) for v in values) + _int(20, _ATTR_FLOATS)
    raise TypeError(f"attribute {name!r}: unsupported value {value!r}")


def value_info(name: str, shape: Sequence[int | str], elem_type: int = FLOAT) -> bytes:
    """ValueInfoProto of a tensor; a str dimension is a named (dynamic) one."""
    dims = b"".join(_bytes(1, _str(2, d) if isinstance(d, str) else _int(1, d)) for d in shape)
    tensor_type = _int(1, elem_type) + _bytes(2, dims)
    return _str(1, name) + _bytes(2, _bytes(1, tensor_type))


@dataclass
class GraphBuilder:
    """Collects nodes and initializers in order and serialises them as one ModelProto."""

    name: str = "graph"
    nodes: list[bytes] = field(default_factory=list)
    initializers: list[bytes] = field(default_factory=list)
    inputs: list[bytes] = field(default_factory=list)
    outputs: list[bytes] = field(default_factory=list)

    def constant(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(tensor(name, array))
        return name

    def node(
        self,
        op_type: str,
        inputs: Sequence[str],
        outputs: Sequence[str],
        name: str = "",
        **attrs: AttrValue,
    ) -> None:
        body = b"".join(_str(1, i) for i in inputs) + b"".join(_str(2, o) for o in outputs)
        body += _str(3, name or outputs[0]) + _str(4, op_type)
        body += b"".join(_bytes(5, attribute(k, v)) for k, v in attrs.items())
        self.nodes.append(body)

    def add_input(self, name: str, shape: Sequence[int | str]) -> None:
        self.inputs.append(value_info(name, shape))

    def add_output(self, name: str, shape: Sequence[int | str]) -> None:
        self.outputs.append(value_info(name, shape))

    def model_bytes(self, opset: int = 13, producer: str = "oneshot3d") -> bytes:
        graph = b"".join(_bytes(1, n) for n in self.nodes) + _str(2, self.name)
        graph += b"".join(_bytes(5, t) for t in self.initializers)
        graph += b"".join(_bytes(11, v) for v in self.inputs)
        graph += b"".join(_bytes(12, v) for v in self.outputs)
        opset_id = _str(1, "") + _int(2, opset)  # the default domain, ai.onnx
        return _int(1, IR_VERSION) + _str(2, producer) + _bytes(7, graph) + _bytes(8, opset_id)
