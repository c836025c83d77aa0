"""A minimal reader for Caffe2 ``NetDef`` protobuf files, written against the wire format.

Caffe2 is gone from current PyTorch wheels and its generated protobuf code is not shipped any
more, so the Tiefenrausch release (two serialised ``NetDef`` messages) is read here directly.
Only the fields the depth network uses are decoded; unknown fields are skipped as the
protobuf rules say. Field numbers (from caffe2/proto/caffe2.proto):

    NetDef:      name=1, op=2, type=3, arg=6, external_input=7, external_output=8
    OperatorDef: input=1, output=2, name=3, type=4, arg=5, engine=7
    Argument:    name=1, f=2, i=3, s=4, floats=5, ints=6, strings=7

Repeated scalars may arrive packed or one element per tag (the Tiefenrausch files use the
latter); both are accepted. ``Argument.i`` is an int64, so negative values arrive as ten-byte
two's-complement varints.

Every malformed input (truncated file, bad varint, a field with the wrong wire type, an
unsupported wire type) raises :class:`~pipeline.errors.ModelError` naming the file.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from typing import Any

from ..errors import ModelError

# Protobuf wire types.
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


class _WireError(Exception):
    """Internal: the bytes are not a valid message; converted to ModelError with the path."""


@dataclass
class Argument:
    """One named argument of an operator. Unset fields keep their defaults."""

    name: str = ""
    f: float | None = None
    i: int | None = None
    s: bytes | None = None
    floats: list[float] = field(default_factory=list)
    ints: list[int] = field(default_factory=list)
    strings: list[bytes] = field(default_factory=list)

    @property
    def value(self) -> Any:
        """The one field that is set (scalars first, then lists), or None."""
        for v in (self.f, self.i, self.s):
            if v is not None:
                return v
        for lst in (self.ints, self.floats, self.strings):
            if lst:
                return lst
        return None


@dataclass
class OperatorDef:
    type: str = ""
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    name: str = ""
    engine: str = ""
    args: dict[str, Argument] = field(default_factory=dict)

    def arg(self, name: str, default: Any = None) -> Any:
        """The value of argument ``name`` (see :attr:`Argument.value`), or ``default``."""
        a = self.args.get(name)
        if a is None:
            return default
        v = a.value
        return default if v is None else v


@dataclass
class NetDef:
    name: str = ""
    type: str = ""
    ops: list[OperatorDef] = field(default_factory=list)
    external_input: list[str] = field(default_factory=list)
    external_output: list[str] = field(default_factory=list)


# --- wire format --------------------------------------------------------------------------


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise _WireError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise _WireError("varint longer than 10 bytes")


def _fields(buf: bytes, pos: int, end: int):
    """Yield (field_number, wire_type, value) for each field of the message in buf[pos:end].

    For length-delimited fields value is the (start, stop) slice, so that nested messages are
    decoded in place without copying.
    """
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _WireError("field number 0")
        if wire == _VARINT:
            value, pos = _varint(buf, pos, end)
            yield number, wire, value
        elif wire == _LEN:
            length, pos = _varint(buf, pos, end)
            stop = pos + length
            if stop > end:
                raise _WireError(f"field {number} runs {stop - end} bytes past the end")
            yield number, wire, (pos, stop)
            pos = stop
        elif wire == _I32:
            if pos + 4 > end:
                raise _WireError("truncated 32-bit field")
            yield number, wire, buf[pos : pos + 4]
            pos += 4
        elif wire == _I64:
            if pos + 8 > end:
                raise _WireError("truncated 64-bit field")
            yield number, wire, buf[pos : pos + 8]
            pos += 8
        else:  # groups (3, 4) are not used by caffe2.proto; 6 and 7 are invalid
            raise _WireError(f"unsupported wire type {wire} for field {number}")


def _expect(number: int, wire: int, wanted: int, what: str) -> None:
    if wire != wanted:
        raise _WireError(f"{what} (field {number}) has wire type {wire}, expected {wanted}")


def _text(buf: bytes, span: tuple[int, int], what: str) -> str:
    try:
        return bytes(buf[span[0] : span[1]]).decode("utf-8")
    except UnicodeDecodeError:
        raise _WireError(f"{what} is not valid UTF-8") from None


def _int64(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >= 1 << 63 else v


def _parse_argument(buf: bytes, start: int, end: int) -> Argument:
    a = Argument()
    for number, wire, value in _fields(buf, start, end):
        if number == 1:
            _expect(number, wire, _LEN, "Argument.name")
            a.name = _text(buf, value, "Argument.name")
        elif number == 2:
            _expect(number, wire, _I32, "Argument.f")
            a.f = struct.unpack("<f", value)[0]
        elif number == 3:
            _expect(number, wire, _VARINT, "Argument.i")
            a.i = _int64(value)
        elif number == 4:
            _expect(number, wire, _LEN, "Argument.s")
            a.s = bytes(buf[value[0] : value[1]])
        elif number == 5:
            if wire == _I32:
                a.floats.append(struct.unpack("<f", value)[0])
            else:
                _expect(number, wire, _LEN, "Argument.floats")
                n = value[1] - value[0]
                if n % 4:
                    raise _WireError("packed Argument.floats length is not a multiple of 4")
                a.floats.extend(struct.unpack(f"<{n // 4}f", buf[value[0] : value[1]]))
        elif number == 6:
            if wire == _VARINT:
                a.ints.append(_int64(value))
            else:
                _expect(number, wire, _LEN, "Argument.ints")
                pos, stop = value
                while pos < stop:
                    v, pos = _varint(buf, pos, stop)
                    a.ints.append(_int64(v))
        elif number == 7:
            _expect(number, wire, _LEN, "Argument.strings")
            a.strings.append(bytes(buf[value[0] : value[1]]))
        # other fields (nested nets, tensors, qtensors) are not used by these files
    return a


def _parse_operator(buf: bytes, start: int, end: int) -> OperatorDef:
    op = OperatorDef()
    for number, wire, value in _fields(buf, start, end):
        if number == 1:
            _expect(number, wire, _LEN, "OperatorDef.input")
            op.inputs.append(_text(buf, value, "OperatorDef.input"))
        elif number == 2:
            _expect(number, wire, _LEN, "OperatorDef.output")
            op.outputs.append(_text(buf, value, "OperatorDef.output"))
        elif number == 3:
            _expect(number, wire, _LEN, "OperatorDef.name")
            op.name = _text(buf, value, "OperatorDef.name")
        elif number == 4:
            _expect(number, wire, _LEN, "OperatorDef.type")
            op.type = _text(buf, value, "OperatorDef.type")
        elif number == 5:
            _expect(number, wire, _LEN, "OperatorDef.arg")
            a = _parse_argument(buf, *value)
            op.args[a.name] = a
        elif number == 7:
            _expect(number, wire, _LEN, "OperatorDef.engine")
            op.engine = _text(buf, value, "OperatorDef.engine")
    return op


def parse_netdef_bytes(data: bytes) -> NetDef:
    """Decode a serialised NetDef. Raises ValueError (with the reason) on malformed data."""
    net = NetDef()
    try:
        for number, wire, value in _fields(data, 0, len(data)):
            if number == 1:
                _expect(number, wire, _LEN, "NetDef.name")
                net.name = _text(data, value, "NetDef.name")
            elif number == 2:
                _expect(number, wire, _LEN, "NetDef.op")
                net.ops.append(_parse_operator(data, *value))
            elif number == 3:
                _expect(number, wire, _LEN, "NetDef.type")
                net.type = _text(data, value, "NetDef.type")
            elif number == 7:
                _expect(number, wire, _LEN, "NetDef.external_input")
                net.external_input.append(_text(data, value, "NetDef.external_input"))
            elif number == 8:
                _expect(number, wire, _LEN, "NetDef.external_output")
                net.external_output.append(_text(data, value, "NetDef.external_output"))
    except _WireError as e:
        raise ValueError(str(e)) from None
    return net


def read_netdef(path: str | os.PathLike[str]) -> NetDef:
    """Read and decode a Caffe2 NetDef file.

    Raises ModelError naming the file when it is missing, unreadable, truncated, corrupt or
    holds no operators (which is what a wrong file that happens to parse looks like).
    """
    path = os.fspath(path)
    hint = "Delete it and let the add-on download it again, or pick the right file."
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise ModelError(f"Model file '{path}' does not exist.") from None
    except OSError as e:
        raise ModelError(f"Cannot read model file '{path}': {e.strerror}.") from None
    try:
        net = parse_netdef_bytes(data)
    except ValueError as e:
        raise ModelError(
            f"Model file '{path}' is not a valid Caffe2 NetDef (truncated or corrupt: {e}). " + hint
        ) from None
    if not net.ops:
        raise ModelError(f"Model file '{path}' holds no Caffe2 operators. " + hint)
    return net
