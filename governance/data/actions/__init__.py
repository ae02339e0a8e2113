"""Data-governance actions: datasets, versions, lineage, consent, subjects and the findings a withdrawal opens.

One module per aggregate (``datasets``, ``lineage``, ``openlineage``, ``consent``, ``subjects``; ``common`` holds
what they share). Each action owns its transaction and appends its trail event inside it (STYLE.md). Every name
importers used when this was one module is re-exported here, so ``from governance.data.actions import X`` keeps
working; a test that patches a name patches it in the module that uses it.
"""

from __future__ import annotations

from governance.data.actions.common import (
    CONSENT_KEEPERS,
    DATA_WRITERS,
    DataError,
    pseudonym_key,
    pseudonym_of,
)
from governance.data.actions.consent import do_create_purpose, do_record_consent
from governance.data.actions.datasets import do_register_dataset, do_register_dataset_version
from governance.data.actions.lineage import do_record_run, link_training_run, training_datasets_of
from governance.data.actions.openlineage import do_record_openlineage
from governance.data.actions.subjects import (
    datasets_holding,
    do_erase_subject,
    do_export_subject,
    do_store_personal_data,
    erasure_report,
    impact_of,
    open_impact_findings,
    read_personal_records,
    subject_report,
)

__all__ = [
    "CONSENT_KEEPERS",
    "DATA_WRITERS",
    "DataError",
    "datasets_holding",
    "do_create_purpose",
    "do_erase_subject",
    "do_export_subject",
    "do_record_consent",
    "do_record_openlineage",
    "do_record_run",
    "do_register_dataset",
    "do_register_dataset_version",
    "do_store_personal_data",
    "erasure_report",
    "impact_of",
    "link_training_run",
    "open_impact_findings",
    "pseudonym_key",
    "pseudonym_of",
    "read_personal_records",
    "subject_report",
    "training_datasets_of",
]
