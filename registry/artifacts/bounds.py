"""Bounds on what a hostile file can make Assay unpack or build, checked before anything is unpacked or built: a ZIP's
member count and sizes (from its end record and central directory, and again while a member is read), and an ONNX
graph's node count and the tensors it holds or would compute from constants (from the protobuf bytes and the
parsed graph, never by running it).
"""

from __future__ import annotations

import functools
import math
import mmap
import os
import struct
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import numpy as np

from registry.artifacts.common import _CHUNK, ArtifactError, ArtifactLimits, _limit_refusal


# A protobuf varint: read by sniff (the first fields of an ONNX model) and by the node count below.
def _read_varint(data: bytes, pos: int) -> tuple[int | None, int]:
    value = shift = 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    return None, pos


# ---------------------------------------------------------------------------------------------
# Archives: bounded before they are opened, and while they are read
# ---------------------------------------------------------------------------------------------
_EOCD = struct.Struct("<4sHHHHIIH")  # end of central directory record


_ZIP64_LOCATOR = struct.Struct("<4sIQI")


_ZIP64_EOCD = struct.Struct("<4sQHHIIQQQQ")


def _zip_member_count(path: str) -> int | None:
    """The number of members a ZIP's end record declares, read from the file's last 64 KiB without parsing the
    central directory (which zipfile turns into one object per member); None when no end record is found."""
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        tail_start = max(0, size - (_EOCD.size + 0xFFFF))
        f.seek(tail_start)
        tail = f.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or at + _EOCD.size > len(tail):
            return None
        count = _EOCD.unpack_from(tail, at)[4]
        locator_at = at - _ZIP64_LOCATOR.size
        if locator_at >= 0 and tail[locator_at : locator_at + 4] == b"PK\x06\x07":
            record_offset = _ZIP64_LOCATOR.unpack_from(tail, locator_at)[2]
            f.seek(record_offset)
            record = f.read(_ZIP64_EOCD.size)
            if len(record) == _ZIP64_EOCD.size and record[:4] == b"PK\x06\x06":
                count = max(count, _ZIP64_EOCD.unpack(record)[6])
        return count


@contextmanager
def _bounded_zip(path: str, name: str, limits: ArtifactLimits) -> Iterator[zipfile.ZipFile]:
    """Open a ZIP once its member count, each member's unpacked size and their total are within ``limits``.

    The count comes from the end record before zipfile reads the directory; the sizes from the central directory,
    which is also what zipfile stops reading a member at (a member that inflates to more than its header says
    fails its CRC check at that size): :func:`_read_member` enforces the limits again as it reads.
    """
    declared = _zip_member_count(path)
    if declared is not None and declared > limits.max_members:
        raise _limit_refusal(
            name, what="is an archive of", measured=declared, field="max_members", limits=limits, unit="members"
        )
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        if len(members) > limits.max_members:
            raise _limit_refusal(
                name, what="is an archive of", measured=len(members), field="max_members", limits=limits, unit="members"
            )
        largest = max(members, key=lambda m: m.file_size, default=None)
        if largest is not None and largest.file_size > limits.max_member_bytes:
            raise _limit_refusal(
                name,
                what=f"holds {largest.filename!r}, which unpacks to",
                measured=largest.file_size,
                field="max_member_bytes",
                limits=limits,
            )
        total = sum(m.file_size for m in members)
        if total > limits.max_unpacked_bytes:
            raise _limit_refusal(
                name, what="would unpack to", measured=total, field="max_unpacked_bytes", limits=limits
            )
        yield archive


def _read_member(
    archive: zipfile.ZipFile, member: str, name: str, *, limit: int, field: str, limits: ArtifactLimits
) -> bytes:
    """One member's bytes, read in chunks and refused as soon as they pass ``limit`` (whatever its header says)."""
    chunks: list[bytes] = []
    read = 0
    with archive.open(member) as stream:
        while chunk := stream.read(_CHUNK):
            read += len(chunk)
            if read > limit:
                raise _limit_refusal(
                    name,
                    what=f"holds {member!r}, which unpacks to at least",
                    measured=read,
                    field=field,
                    limits=limits,
                )
            chunks.append(chunk)
    return b"".join(chunks)


# --- ONNX bounds, checked before onnxruntime builds anything ----------------------------------------------------

# Bytes per element of each onnx.TensorProto data type (strings counted as a pointer each; 4-bit types as a byte).
_ONNX_ELEMENT_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 8: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8, 15: 16}


_ONNX_SMALL = 64  # a constant with at most this many values is read, as the shape or repeats an operator is given


# Operators onnxruntime never folds into constants (their output is drawn at random on every run).
_ONNX_RANDOM = frozenset(
    {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli", "Dropout"}
)


def _check_onnx_wire_nodes(path: str, name: str, limits: ArtifactLimits) -> None:
    """Count the main graph's nodes in the protobuf bytes, before parsing them into one object per node.

    A file of the largest accepted size could hold millions of tiny nodes, which onnx and onnxruntime would each
    expand into far more memory than the file; the scan stops as soon as the limit is passed.
    """
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        graph = _wire_field(data, 0, len(data), field=7)  # ModelProto.graph
        if graph is None:
            return
        for count, _ in enumerate(_wire_fields(data, graph[0], graph[1], field=1), start=1):  # GraphProto.node
            if count > limits.onnx_max_nodes:
                raise _limit_refusal(
                    name,
                    what="has more than",
                    measured=limits.onnx_max_nodes,
                    field="onnx_max_nodes",
                    limits=limits,
                    unit="nodes",
                )


def _wire_fields(data: Any, start: int, end: int, *, field: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each length-delimited ``field`` in a protobuf message held in ``data[start:end]``."""
    pos = start
    while pos < end:
        tag, pos = _read_varint(data, pos)
        if tag is None:
            return
        wire = tag & 7
        if wire == 0:
            _, pos = _read_varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            if length is None:
                return
            if tag >> 3 == field:
                yield pos, min(pos + length, end)
            pos += length
        else:
            return  # groups or garbage: the parser will say what is wrong


def _wire_field(data: Any, start: int, end: int, *, field: int) -> tuple[int, int] | None:
    return next(_wire_fields(data, start, end, field=field), None)


def _onnx_graphs(model: Any) -> Iterator[Any]:
    """Every graph of a model: the main one, those nested in node attributes (If, Loop, Scan), training graphs."""
    stack = [model.graph]
    for info in model.training_info:
        stack += [info.initialization, info.algorithm]
    while stack:
        graph = stack.pop()
        yield graph
        for node in graph.node:
            for attribute in node.attribute:
                if attribute.HasField("g"):
                    stack.append(attribute.g)
                stack.extend(attribute.graphs)


def _tensor_bytes(dims: Iterable[int], data_type: int) -> int:
    elements = 1
    for dim in dims:
        elements *= max(int(dim), 0)
    return elements * _ONNX_ELEMENT_BYTES.get(data_type, 8)


def _check_onnx_graph(model: Any, name: str, limits: ArtifactLimits) -> None:
    """Refuse a graph with too many nodes, or one that holds or computes from constants a tensor above the limit.

    onnxruntime evaluates every node whose inputs are all constants while it creates a session (constant folding),
    so a graph of a few bytes can ask it for gigabytes (ConstantOfShape of a huge shape, Expand, Tile, Range...).
    Sizes are read from each tensor's declared shape, from the shapes given to those operators (constants, or small
    values computed from constants: Shape, Mul, Concat...), and from ONNX shape inference over the constant part of
    the graph; nothing large is ever computed.
    """
    graphs = list(_onnx_graphs(model))
    nodes = sum(len(g.node) for g in graphs) + sum(len(f.node) for f in model.functions)
    if nodes > limits.onnx_max_nodes:
        raise _limit_refusal(name, what="has", measured=nodes, field="onnx_max_nodes", limits=limits, unit="nodes")

    def refuse(tensor: str, size: int, how: str) -> ArtifactError:
        return _limit_refusal(
            name, what=f"{how} tensor {tensor!r} of", measured=size, field="onnx_max_tensor_bytes", limits=limits
        )

    # Each tensor once (by graph and name), at the largest size found for it: many tensors each under the limit
    # could still add up to more than one artifact may unpack to.
    sizes: dict[tuple[int, str], int] = {}
    inferred = _inferred_shapes(model)
    for index, graph in enumerate(graphs):
        for tensor, size, how in _onnx_tensor_sizes(graph, inferred if index == 0 else {}):
            if size > limits.onnx_max_tensor_bytes:
                raise refuse(tensor, size, how)
            sizes[index, tensor] = max(sizes.get((index, tensor), 0), size)
    for output, size in _folded_sizes(model.graph, inferred):
        if size > limits.onnx_max_tensor_bytes:
            raise refuse(output, size, "would compute, from constants alone, the")
        sizes[0, output] = max(sizes.get((0, output), 0), size)
    total = sum(sizes.values())
    if total > limits.max_unpacked_bytes:
        raise _limit_refusal(
            name,
            what="holds, or computes from constants alone, tensors of",
            measured=total,
            field="max_unpacked_bytes",
            limits=limits,
            unit="bytes in all",
        )


def _onnx_tensor_sizes(graph: Any, shapes: dict[str, tuple[int, list[int] | None]]) -> Iterator[tuple[str, int, str]]:
    """(tensor, bytes, how the graph comes by it) for the tensors a graph holds and those it asks for by shape."""
    for tensor in graph.initializer:
        yield tensor.name, _tensor_bytes(tensor.dims, tensor.data_type), "holds the"
    for sparse in graph.sparse_initializer:
        yield sparse.values.name, _tensor_bytes(sparse.dims, sparse.values.data_type), "holds the"
    constants = _small_values(graph, shapes)
    for node in graph.node:
        for output, size in _constant_shape_outputs(node, constants):
            yield output, size, f"asks {node.op_type} for the"
        for attribute in node.attribute:
            for tensor in ([attribute.t] if attribute.HasField("t") else []) + list(attribute.tensors):
                yield (
                    node.output[0] if node.output else node.name,
                    _tensor_bytes(tensor.dims, tensor.data_type),
                    ("holds the"),
                )


def _small_values(graph: Any, shapes: dict[str, tuple[int, list[int] | None]]) -> dict[str, list[float]]:
    """The values of a graph's small constant tensors, by name: initializers and Constant nodes, and what the
    arithmetic of shapes computes from them (Shape of a tensor whose shape is known, Mul, Concat, Gather...), the
    way onnxruntime folds them. Only tensors of at most a few dozen values are ever computed."""
    from onnx import numpy_helper

    values: dict[str, Any] = {}
    dims: dict[str, list[int]] = {name: shape for name, (_, shape) in shapes.items() if shape is not None}
    for tensor in graph.initializer:
        dims[tensor.name] = [int(d) for d in tensor.dims]
        if _tensor_bytes(tensor.dims, 1) <= _ONNX_SMALL:
            with suppress(Exception):
                values[tensor.name] = numpy_helper.to_array(tensor).astype(np.float64).ravel()
    for node in graph.node:
        if node.domain not in ("", "ai.onnx") or len(node.output) != 1:
            continue
        with suppress(Exception):  # anything unexpected: that value stays unknown
            result = _evaluate_small(node, values, dims)
            if result is not None and result.size <= _ONNX_SMALL:
                values[node.output[0]] = result
    return {name: [float(v) for v in array] for name, array in values.items()}


def _evaluate_small(node: Any, values: dict[str, Any], dims: dict[str, list[int]]) -> Any:
    """One node's output as a flat float64 array, when it is shape arithmetic on known small values; else None."""
    if node.op_type in ("Constant", "Shape", "Size"):
        return _evaluate_source(node, dims)
    args = [values.get(name) for name in node.input if name]
    if not args or any(a is None for a in args):
        return None
    operation = _small_operations().get(node.op_type)
    return None if operation is None else np.asarray(operation(*args), dtype=np.float64).ravel()


def _evaluate_source(node: Any, dims: dict[str, list[int]]) -> Any:
    """The values of a Constant node, or the Shape or Size of a tensor whose shape is known; else None."""
    from onnx import helper, numpy_helper

    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    found: Any = None
    if node.op_type == "Constant":
        if "value" in attributes and _tensor_bytes(attributes["value"].dims, 1) <= _ONNX_SMALL:
            found = numpy_helper.to_array(attributes["value"])
        elif "value_ints" in attributes:
            found = attributes["value_ints"]
        elif "value_int" in attributes:
            found = [attributes["value_int"]]
    elif node.input and (shape := dims.get(node.input[0])) is not None:
        found = (
            shape[attributes.get("start", 0) : attributes.get("end")] if node.op_type == "Shape" else [_product(shape)]
        )
    return None if found is None else np.asarray(found, dtype=np.float64).ravel()


def _slice(data: Any, starts: Any, ends: Any, axes: Any = None, steps: Any = None) -> Any:
    step = int(steps[0]) if steps is not None else 1
    return data[int(starts[0]) : int(min(ends[0], 2**62)) : step]


@functools.cache
def _small_operations() -> dict[str, Callable[..., Any]]:
    """Shape arithmetic onnxruntime folds, on flat arrays of a few values (built on first use)."""

    def same(a: Any, *_: Any) -> Any:  # what reshaping does to the values, taken flat
        return a

    return {
        **dict.fromkeys(("Identity", "Cast", "Squeeze", "Unsqueeze", "Flatten", "Reshape"), same),
        "Neg": np.negative,
        "Abs": np.abs,
        "ReduceProd": lambda a, *_: [np.prod(a)],
        "ReduceSum": lambda a, *_: [np.sum(a)],
        "Add": np.add,
        "Sub": np.subtract,
        "Mul": np.multiply,
        "Div": lambda a, b: np.trunc(a / b),
        "Max": np.maximum,
        "Min": np.minimum,
        "Pow": np.power,
        "Concat": lambda *a: np.concatenate(a),
        "Gather": lambda a, i: a[np.asarray(i).astype(np.int64)],
        "Slice": _slice,
    }


def _product(values: Iterable[float]) -> int:
    result = 1
    for value in values:
        result *= max(int(value), 1) if math.isfinite(value) else 1
    return result


def _constant_shape_outputs(node: Any, constants: dict[str, Any]) -> Iterator[tuple[str, int]]:
    """(output, at least how many bytes it will hold) for operators given a constant shape, count or repeats."""
    if node.domain not in ("", "ai.onnx") or not node.output:
        return
    inputs = list(node.input)

    def given(index: int) -> Any:
        return constants.get(inputs[index]) if len(inputs) > index and inputs[index] else None

    op, out = node.op_type, node.output[0]
    if op == "ConstantOfShape" and (shape := given(0)) is not None:
        data_type = next((a.t.data_type for a in node.attribute if a.name == "value"), 1)
        yield out, _product(shape) * _ONNX_ELEMENT_BYTES.get(data_type, 8)
    elif op in ("Expand", "Reshape") and (shape := given(1)) is not None:
        yield out, _product(shape)  # elements, a byte each at least: the input's type is not known here
    elif op == "Tile" and (repeats := given(1)) is not None:
        tiled = given(0)
        yield out, _product(repeats) * max(len(tiled) if tiled is not None else 1, 1)
    elif op == "Range" and all(given(i) is not None and len(given(i)) == 1 for i in range(3)):
        start, limit, delta = (given(i)[0] for i in range(3))
        if delta:
            yield out, max(math.ceil((limit - start) / delta), 0)
    elif op in ("Resize", "Upsample") and (sizes := given(3)) is not None:
        yield out, _product(sizes)


def _inferred_shapes(model: Any) -> dict[str, tuple[int, list[int] | None]]:
    """(element type, static shape or None) of each tensor of the main graph, as ONNX shape inference finds them.

    Inference runs on a light copy of the graph (large initializers replaced by inputs of the same type and shape),
    with data propagation so that shapes computed from constants (Shape, Concat, Gather...) are known.
    """
    import onnx
    from onnx import helper

    graph = model.graph
    small: list[Any] = []
    large: list[Any] = []
    for tensor in graph.initializer:
        (small if _tensor_bytes(tensor.dims, 1) <= _ONNX_SMALL * 4 else large).append(tensor)
    declared = {i.name for i in graph.input}
    extra_inputs = [
        helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in large if t.name not in declared
    ]
    light = helper.make_model(
        helper.make_graph(
            list(graph.node),
            graph.name or "g",
            [*graph.input, *extra_inputs],
            list(graph.output),
            initializer=small,
            value_info=list(graph.value_info),
        ),
        opset_imports=list(model.opset_import),
        functions=list(model.functions),
    )
    light.ir_version = model.ir_version
    try:
        inferred = onnx.shape_inference.infer_shapes(light, check_type=False, strict_mode=False, data_prop=True)
    except Exception:  # an invalid graph: the checker that runs next says why
        return {}
    types: dict[str, tuple[int, list[int] | None]] = {}
    for info in [*inferred.graph.value_info, *inferred.graph.output]:
        tensor_type = info.type.tensor_type
        if not tensor_type.HasField("shape"):
            continue
        dims = [int(d.dim_value) for d in tensor_type.shape.dim if d.HasField("dim_value")]
        static = len(dims) == len(tensor_type.shape.dim)
        types[info.name] = (tensor_type.elem_type, dims if static else None)
    return types


def _folded_sizes(graph: Any, types: dict[str, tuple[int, list[int] | None]]) -> Iterator[tuple[str, int]]:
    """(tensor, bytes) for each tensor of ``graph`` that onnxruntime could fold, sized by shape inference."""
    graph_inputs = {i.name for i in graph.input}
    folded = {t.name for t in graph.initializer if t.name not in graph_inputs}
    for node in graph.node:
        if node.op_type in _ONNX_RANDOM or any(attr.HasField("g") or attr.graphs for attr in node.attribute):
            continue
        if node.op_type != "Constant" and not all(not i or i in folded for i in node.input):
            continue
        if not node.input and node.op_type != "Constant":
            continue
        for output in node.output:
            folded.add(output)
            elem_type, shape = types.get(output, (0, None))
            if shape is not None:
                yield output, _tensor_bytes(shape, elem_type)
