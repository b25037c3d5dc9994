"""Element sizes of every ONNX tensor type, in bits (sub-byte types included)."""

from __future__ import annotations

import math

from onnx import TensorProto

from edgemem.errors import ShapeError

BITS_BY_DTYPE: dict[int, int] = {
    TensorProto.FLOAT: 32,
    TensorProto.UINT8: 8,
    TensorProto.INT8: 8,
    TensorProto.UINT16: 16,
    TensorProto.INT16: 16,
    TensorProto.INT32: 32,
    TensorProto.INT64: 64,
    TensorProto.BOOL: 8,
    TensorProto.FLOAT16: 16,
    TensorProto.DOUBLE: 64,
    TensorProto.UINT32: 32,
    TensorProto.UINT64: 64,
    TensorProto.COMPLEX64: 64,
    TensorProto.COMPLEX128: 128,
    TensorProto.BFLOAT16: 16,
}
# Types added in later onnx releases; looked up by name so older onnx versions still import.
_LATER = {
    "FLOAT8E4M3FN": 8, "FLOAT8E4M3FNUZ": 8, "FLOAT8E5M2": 8, "FLOAT8E5M2FNUZ": 8, "FLOAT8E8M0": 8,
    "UINT4": 4, "INT4": 4, "FLOAT4E2M1": 4, "UINT2": 2, "INT2": 2, "FLOAT6E2M3": 6, "FLOAT6E3M2": 6,
}
for _name, _bits in _LATER.items():
    if hasattr(TensorProto, _name):
        BITS_BY_DTYPE[getattr(TensorProto, _name)] = _bits


ONNX_TYPES = frozenset(TensorProto.DataType.values())  # every element type this onnx defines
_NAMES = {number: TensorProto.DataType.Name(number) for number in ONNX_TYPES}


def dtype_name(elem_type: int) -> str:
    name = _NAMES.get(elem_type)
    return name if name is not None else f"UNKNOWN({elem_type})"


def size_bytes_of(elem_type: int, shape: tuple[int, ...], tensor: str, string_element_bytes: int = 32) -> int:
    """Bytes to hold a tensor: ceil(numel * bits / 8); packed sub-byte types round up to a byte."""
    numel = math.prod(shape)
    if elem_type == TensorProto.STRING:
        return numel * string_element_bytes
    bits = BITS_BY_DTYPE.get(elem_type)
    if bits is None:
        raise ShapeError(f"tensor {tensor!r} has element type {dtype_name(elem_type)} that edgemem cannot size")
    return (numel * bits + 7) // 8
