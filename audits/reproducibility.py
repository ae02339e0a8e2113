"""What besides library versions can change an audit's floating-point numbers on this machine.

The same code and libraries can give different numbers on another machine: the BLAS library numpy and scipy loaded
(and which CPU kernel it picked at run time), how many threads it and OpenMP use (the order of a sum), and the CPU's
vector instructions. An audit records them beside its library versions, so a result that differs elsewhere can be
traced to what differed. Pure: no Django; every value is text (the report prints them in its library table).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

# Environment variables that set thread counts of BLAS and OpenMP (read at start-up by the libraries).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")

# CPU flags (as /proc/cpuinfo names them) that decide which vector kernels numpy, BLAS and onnxruntime use.
NUMERIC_CPU_FLAGS = ("sse2", "sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512dq", "avx512vl")

PREFIX = "numerics: "


def numerics_record() -> dict[str, str]:
    """The machine's numeric configuration as ``{"numerics: <what>": text}``: machine and CPU, the CPU's vector
    flags, numpy's SIMD extensions, each loaded BLAS/OpenMP library with its version, kernel and thread count, and
    the thread environment variables. Nothing here fails an audit: an item that cannot be read is left out."""
    record = {
        "machine": f"{platform.machine()} {platform.system()} {platform.release()}".strip(),
        "cpu": _cpu_model() or platform.processor() or "unknown",
        "cpu flags": " ".join(flag for flag in NUMERIC_CPU_FLAGS if flag in _cpu_flags()) or "unknown",
        "cpu count": f"{os.cpu_count() or 'unknown'} (usable: {_usable_cpus()})",
        "threads env": " ".join(f"{name}={os.environ.get(name, 'unset')}" for name in THREAD_VARIABLES),
    }
    record.update(_numpy_config())
    record.update(_thread_pools())
    return {f"{PREFIX}{name}": value for name, value in record.items()}


def _cpu_info() -> str:
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _cpu_model() -> str:
    for line in _cpu_info().splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Processor", "cpu model"):
            return value.strip()
    return ""


def _cpu_flags() -> set[str]:
    for line in _cpu_info().splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def _usable_cpus() -> int | str:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return "unknown"


def _numpy_config() -> dict[str, str]:
    """numpy's BLAS/LAPACK as built and its SIMD extensions (baseline and found at run time)."""
    try:
        config: Any = np.show_config(mode="dicts")
    except Exception:  # an older numpy without mode="dicts": nothing to record, never an error
        return {}
    found: dict[str, str] = {}
    dependencies = config.get("Build Dependencies") or {}
    for name in ("blas", "lapack"):
        library = dependencies.get(name) or {}
        if library:
            found[f"numpy {name}"] = f"{library.get('name', '?')} {library.get('version', '?')}"
    simd = config.get("SIMD Extensions") or {}
    if simd:
        baseline, extra = " ".join(simd.get("baseline") or []), " ".join(simd.get("found") or [])
        found["numpy simd"] = f"baseline {baseline or 'none'}; found {extra or 'none'}"
    return found


def _thread_pools() -> dict[str, str]:
    """Each BLAS and OpenMP library loaded in this process (threadpoolctl): version, kernel, threads."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {}
    found: dict[str, str] = {}
    for pool in threadpool_info():
        api = pool.get("user_api", "?")
        parts = [str(pool.get("internal_api", "?")), str(pool.get("version") or "")]
        if pool.get("architecture"):
            parts.append(f"kernel {pool['architecture']}")
        if pool.get("threading_layer"):
            parts.append(f"threading {pool['threading_layer']}")
        parts.append(f"{pool.get('num_threads', '?')} threads")
        library = Path(str(pool.get("filepath", ""))).name
        key = f"{api} {library}" if library else str(api)
        found[key] = ", ".join(part for part in parts if part)
    return found
