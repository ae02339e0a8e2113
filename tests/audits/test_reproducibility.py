"""An audit's reproducibility record says what besides library versions changes its numbers: the CPU's vector
instructions, the BLAS kernel and the threads it runs with (issue 17). Checked against numpy's own CPU detection and
against thread limits set here, not against the module's own sources."""

from __future__ import annotations

import sys

import pyarrow as pa
import pytest
from numpy._core._multiarray_umath import __cpu_features__  # numpy's cpuid-based detection
from threadpoolctl import threadpool_info, threadpool_limits

from audits.engine import evaluate
from audits.evaluation import ColumnRoles, build_evaluation
from audits.policies import builtin_policies, load_policy
from audits.reproducibility import numerics_record
from tests.audits.conftest import FAILING_RATES, decision_rows


def blas_entries(record: dict[str, str]) -> list[str]:
    return [value for key, value in record.items() if key.startswith("numerics: blas ")]


def test_the_record_is_text_under_its_own_names() -> None:
    record = numerics_record()
    assert all(key.startswith("numerics: ") and isinstance(value, str) and value for key, value in record.items())
    assert {"numerics: machine", "numerics: cpu", "numerics: cpu flags", "numerics: threads env"} <= set(record)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="CPU flags are read from /proc/cpuinfo")
def test_cpu_flags_agree_with_numpys_own_cpu_detection() -> None:
    flags = numerics_record()["numerics: cpu flags"].split()
    for ours, numpys in (
        ("avx", "AVX"),
        ("avx2", "AVX2"),
        ("fma", "FMA3"),
        ("avx512f", "AVX512F"),
        ("sse4_2", "SSE42"),
    ):
        assert (ours in flags) == bool(__cpu_features__[numpys]), ours


def test_blas_threads_are_read_when_the_audit_runs_not_cached() -> None:
    assert any(pool["user_api"] == "blas" for pool in threadpool_info()), "numpy loads a BLAS"
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            entries = blas_entries(numerics_record())
        assert entries
        assert all(entry.endswith(f", {threads} threads") for entry in entries), entries


def test_thread_environment_variables_are_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    threads = numerics_record()["numerics: threads env"].split()
    assert "OMP_NUM_THREADS=3" in threads
    assert "MKL_NUM_THREADS=unset" in threads


def test_an_audit_records_the_numerics_beside_its_library_versions() -> None:
    table = pa.Table.from_pylist(decision_rows(FAILING_RATES))
    evaluation = build_evaluation(table, ColumnRoles(label="label", protected=("sex",), prediction="prediction"))
    outcome = evaluate(evaluation, load_policy(builtin_policies()["four-fifths"]).document)
    recorded = outcome.library_versions
    assert {"numpy", "scikit-learn"} <= set(recorded)
    assert set(numerics_record()) <= set(recorded)
    assert blas_entries(recorded)
