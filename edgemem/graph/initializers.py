"""Initializers whose stored data matches their declared element type and shape.

ONNX Runtime refuses a model whose weight holds more or fewer values than its dims say; edgemem
sizes weights from the dims and folds small ones, so the two must agree before either happens.
Only counts are compared: no weight is decoded.
"""

from __future__ import annotations

import math

from onnx import ModelProto, TensorProto
from onnx.external_data_helper import ExternalDataInfo, uses_external_data

from edgemem.errors import GraphError
from edgemem.graph.dtypes import BITS_BY_DTYPE, ONNX_TYPES, dtype_name

T = TensorProto
# Typed value field of each element type, and how many entries one element takes there.
TYPED_FIELD = {
    T.FLOAT: ("float_data", 1), T.COMPLEX64: ("float_data", 2), T.DOUBLE: ("double_data", 1), T.COMPLEX128: ("double_data", 2),
    T.INT64: ("int64_data", 1), T.UINT32: ("uint64_data", 1), T.UINT64: ("uint64_data", 1), T.STRING: ("string_data", 1),
    T.INT32: ("int32_data", 1), T.INT16: ("int32_data", 1), T.INT8: ("int32_data", 1), T.UINT16: ("int32_data", 1),
    T.UINT8: ("int32_data", 1), T.BOOL: ("int32_data", 1), T.FLOAT16: ("int32_data", 1), T.BFLOAT16: ("int32_data", 1),
}


def check_initializers(model: ModelProto) -> None:
    for tensor in model.graph.initializer:
        check_tensor(tensor)


def check_tensor(tensor: TensorProto) -> None:
    where = f"initializer {tensor.name!r}"
    if tensor.data_type == T.UNDEFINED or tensor.data_type not in ONNX_TYPES:
        raise GraphError(f"{where} has element type {dtype_name(tensor.data_type)}, which ONNX Runtime cannot load")
    if any(d < 0 for d in tensor.dims):
        raise GraphError(f"{where} declares dims {list(tensor.dims)}: dimensions of a stored tensor are >= 0")
    if tensor.HasField("segment"):
        return
    numel = math.prod(tensor.dims)
    shape = "x".join(map(str, tensor.dims)) or "scalar"
    if uses_external_data(tensor):
        length = ExternalDataInfo(tensor).length
        needed = stored_bytes(tensor.data_type, numel)
        if length not in (None, "") and needed is not None and int(length) != needed:
            raise GraphError(f"{where} ({dtype_name(tensor.data_type)} {shape}) needs {needed} bytes, but its external data "
                             f"record says {int(length)}")
        return
    held, unit = held_count(tensor)
    needed = numel if unit == "elements" else stored_bytes(tensor.data_type, numel)
    if held is not None and needed is not None and held != needed:
        raise GraphError(f"{where} declares {dtype_name(tensor.data_type)} {shape} ({needed} {unit}) but holds {held} {unit}; "
                         "the file is corrupt or was edited inconsistently")


def stored_bytes(data_type: int, numel: int) -> int | None:
    bits = BITS_BY_DTYPE.get(data_type)
    return None if bits is None else (numel * bits + 7) // 8


def held_count(tensor: TensorProto) -> tuple[int | None, str]:
    """(entries stored, their unit): bytes of raw_data, or elements of the typed field; None if unknown."""
    if tensor.HasField("raw_data"):
        return len(tensor.raw_data), "bytes"
    field, per_element = TYPED_FIELD.get(tensor.data_type, (None, 1))
    if field is None:
        return None, "elements"
    count = len(getattr(tensor, field))
    if count % per_element:
        return None, "elements"
    return count // per_element, "elements"

