"""PostgreSQL ``numeric`` and DuckDB DECIMAL feature columns of a partition are numbers: their statistics are those
of the same values uploaded (as the nearest doubles, as a file's decimal text is read). Before, the partition was
refused ("must hold numbers; it has type DECIMAL(12,2)" / "1700")."""

# ruff: noqa: F811 - `lake` is a fixture imported from test_monitoring_sources, named again by each test using it

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from audits.monitoring import actions as monitoring
from registry.models import BatchStatus, ModelVersion, MonitoringBatch
from tests.audits.conftest import media_root  # noqa: F401 - a fixture the lake fixture uses
from tests.conftest import Cast
from tests.monitoring import arrange
from tests.sources.conftest import pg_uri
from tests.sources.test_monitoring_sources import (  # noqa: F401 - lake is a fixture
    AFTER_MIDNIGHT,
    DAY,
    URL,
    assert_same_as_uploaded,
    batch_table,
    lake,
    load_days,
    uploaded_and_checked,
    write_day,
)

pytestmark = pytest.mark.usefixtures("unprotected_trail")


def _put(cast: Cast, version: ModelVersion, body: dict[str, Any]) -> Any:
    return cast.owner.client().put(URL.format(name=version.model.name, number=version.number), body, format="json")


# --- numeric and DECIMAL features -----------------------------------------------------------------------------------


def _with_cents(table: pa.Table, decimal: bool) -> pa.Table:
    """``credit_amount`` with cents (0.00 to 0.99, varied), as DECIMAL(12, 2) or as the nearest doubles."""
    amounts = table.column("credit_amount").to_pylist()
    exact = [Decimal(int(a)) + Decimal((i * 37) % 100) / 100 for i, a in enumerate(amounts)]
    column = pa.array(exact, pa.decimal128(12, 2)) if decimal else pa.array([float(v) for v in exact])
    return table.set_column(table.column_names.index("credit_amount"), "credit_amount", column)


SHIFTED = {"shift_credit_amount_sd": 1.0, "halve_female_approvals": True}


def test_a_decimal_feature_in_a_parquet_partition_counts_as_the_uploaded_numbers(cast: Cast, lake: Path) -> None:
    version = arrange.monitored_demo_version(cast)
    rows = batch_table(**SHIFTED)
    uploaded = uploaded_and_checked(cast, version, _with_cents(rows, decimal=False))
    write_day(lake, DAY, _with_cents(rows, decimal=True), parts=2)
    body = {"uri": f"parquet://{lake / 'scores'}", "partition_column": "date", "start": "2026-12-05"}
    assert _put(cast, version, body).status_code == 200

    monitoring.run_due_checks(now=AFTER_MIDNIGHT)

    found = MonitoringBatch.objects.get(version=version, number=2)
    assert found.status == BatchStatus.CHECKED, found.error  # before: "must hold numbers; it has type DECIMAL"
    assert_same_as_uploaded(found, uploaded)
    assert found.results["features"]["credit_amount"]["missing"] == 0


def test_a_numeric_feature_in_a_table_counts_as_the_uploaded_numbers(cast: Cast, lake: Path, source_db: str) -> None:
    version = arrange.monitored_demo_version(cast)
    rows = batch_table(**SHIFTED)
    uploaded = uploaded_and_checked(cast, version, _with_cents(rows, decimal=False))
    load_days(source_db, {DAY: _with_cents(rows, decimal=True)})
    body = {"uri": pg_uri("table=scores"), "partition_column": "scored_on", "start": "2026-12-05"}
    assert _put(cast, version, body).status_code == 200

    monitoring.run_due_checks(now=AFTER_MIDNIGHT)

    found = MonitoringBatch.objects.get(version=version, number=2)
    assert found.status == BatchStatus.CHECKED, found.error
    assert found.results["source"]["evidence"]["columns"][1] == {"name": "credit_amount", "type_oid": 1700}
    assert_same_as_uploaded(found, uploaded)
