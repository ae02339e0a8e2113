"""Hostile files for the bounded-input tests, and a memory ceiling to run code under.

The files are built here, in a second or less, rather than stored: a ZIP whose member inflates to GiBs (the
deflate stream of zeros is one compressed megabyte repeated, which is what a compressor writes after a full
flush), an ONNX graph that asks for a huge constant, and CSV headers with very many columns.

:func:`run_under_ceiling` runs a snippet in a child interpreter whose address space may grow by at most a given
number of bytes past what its imports took (``RLIMIT_AS``); the unbounded code this guards against needs GiBs, so
it fails there with MemoryError instead of taking the machine. :func:`memory_ceiling` does the same for the test
process itself, around one request.
"""

from __future__ import annotations

import json
import os
import resource
import struct
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import onnx
from onnx import TensorProto, helper

REPO = Path(__file__).resolve().parents[1]
MiB = 1 << 20
GiB = 1 << 30


def _deflated_zeros(size: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``size`` zero bytes (``size`` a multiple of 1 MiB) and its CRC-32, built quickly."""
    assert size % MiB == 0
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(MiB)
    # After a full flush the compressor starts afresh, so every megabyte compresses to the same bytes.
    piece = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    stream = piece * (size // MiB) + compressor.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(size // MiB):
        crc = zlib.crc32(zeros, crc)
    return stream, crc


def zip_bytes(members: list[tuple[str, bytes | int, int | None]]) -> bytes:
    """A ZIP archive of ``(name, content, declared size)`` members, deflated.

    ``content`` is bytes, or an int: that many zero bytes (a multiple of 1 MiB), stored as the compact deflate
    stream of :func:`_deflated_zeros`. ``declared size``, when not None, is what the headers claim instead of the
    true size (a lying header).
    """
    body = b""
    central = b""
    for name, content, declared in members:
        if isinstance(content, int):
            data, crc = _deflated_zeros(content)
            size = content
        else:
            compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
            data = compressor.compress(content) + compressor.flush()
            crc, size = zlib.crc32(content), len(content)
        claimed = size if declared is None else declared
        encoded = name.encode()
        offset = len(body)
        fields = (20, 0, 8, 0, 0x21, crc, len(data), claimed, len(encoded), 0)
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields) + encoded + data
        central += (
            struct.pack("<IH", 0x02014B50, 20)
            + struct.pack("<HHHHHIIIHH", *fields)
            + struct.pack("<HHHII", 0, 0, 0, 0, offset)
            + encoded
        )
    count = len(members)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(central), len(body), 0)
    return body + central + end


def skops_bomb(unpacked: int = 2 * GiB) -> bytes:
    """A ``.skops`` file (a ZIP with ``schema.json``) of about 2 MB whose schema.json inflates to ``unpacked`` bytes."""
    return zip_bytes([("schema.json", unpacked, None)])


def onnx_constant_bomb(elements: int = 1 << 28) -> bytes:
    """A tiny, valid ONNX model whose one node, ConstantOfShape, builds a float32 tensor of ``elements`` values
    (1 GiB by default) from a constant shape: onnxruntime computes it while creating a session."""
    shape = helper.make_tensor("shape", TensorProto.INT64, [1], [elements])
    node = helper.make_node(
        "ConstantOfShape", ["shape"], ["y"], value=helper.make_tensor("value", TensorProto.FLOAT, [1], [1.0])
    )
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [elements])],
        initializer=[shape],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def wide_csv(columns: int, rows: int = 1) -> bytes:
    """A CSV file with ``columns`` columns named c0, c1, ... and ``rows`` rows of small integers."""
    header = ",".join(f"c{i}" for i in range(columns))
    row = ",".join("1" for _ in range(columns))
    return (header + "\n" + (row + "\n") * rows).encode()


# --- memory ceilings ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildResult:
    """What a snippet printed as JSON on its last line, and how much memory its process used at peak."""

    returncode: int
    result: dict
    stderr: str
    peak_rss_bytes: int  # the child's ru_maxrss


_CHILD = """
import json, resource, sys, traceback
sys.path.insert(0, {repo!r})
{imports}
def _vm() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_CPU, ({cpu}, resource.getrlimit(resource.RLIMIT_CPU)[1]))
_, hard = resource.getrlimit(resource.RLIMIT_AS)
resource.setrlimit(resource.RLIMIT_AS, (_vm() + {ceiling}, hard))
try:
{body}
except MemoryError:
    result = {{"outcome": "MemoryError"}}
except BaseException as exc:
    result = {{"outcome": type(exc).__name__, "message": str(exc)[:2000], "code": getattr(exc, "code", None),
               "traceback": traceback.format_exc()[-3000:]}}
resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
result["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(result))
"""


def run_under_ceiling(
    body: str, *, imports: str, ceiling: int, django: bool = False, cpu_seconds: int = 300
) -> ChildResult:
    """Run ``body`` (which sets ``result``, a dict) in a child interpreter after ``imports``, with its address space
    allowed to grow by at most ``ceiling`` bytes beyond what it holds after the imports. ``result`` gets
    ``{"outcome": "MemoryError"}`` when the ceiling was hit, or the exception's class, message and ``code``.

    With ``django``, the child sets Django up with the test settings first (no database is opened). ``cpu_seconds``
    bounds the child's processor time, so that code that would spin for minutes ends the test instead (a guard,
    not a measure: no result depends on it).
    """
    setup = "import django\ndjango.setup()\n" if django else ""
    script = _CHILD.format(
        repo=str(REPO),
        imports=setup + textwrap.dedent(imports),
        cpu=cpu_seconds,
        ceiling=ceiling,
        body=textwrap.indent(textwrap.dedent(body), "    "),
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if django:
        env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    else:
        env.pop("DJANGO_SETTINGS_MODULE", None)  # the pure modules run on their defaults
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO, check=False
    )
    lines = completed.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        result = {"outcome": "no result", "stdout": completed.stdout[-2000:]}
    return ChildResult(
        returncode=completed.returncode,
        result=result,
        stderr=completed.stderr[-3000:],
        peak_rss_bytes=int(result.get("peak_rss_bytes", 0)),
    )


@contextmanager
def memory_ceiling(extra: int) -> Iterator[None]:
    """Let this process's address space grow by at most ``extra`` bytes inside the block (Linux ``RLIMIT_AS``)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        current = int(f.read().split()[0]) * resource.getpagesize()
    limit = current + extra if hard == resource.RLIM_INFINITY else min(current + extra, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
