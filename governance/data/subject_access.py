"""What an access answer (GDPR Art. 15) contains and what an erasure request (Art. 17) does, said as they are.

An access answer gives, besides the data, the information of Art. 15(1)(a)-(h) and 15(2). Assay knows part of it from
its records (the purposes and legal bases of recorded consent, the categories of data stored, the dataset versions
and rows that hold the subject, their recorded sources); the rest only the controller knows (recipients, retention,
how to exercise rights, the supervisory authority, automated decisions). That part comes from settings
(``GDPR_*``); a setting left empty is named in the answer as a gap the controller must fill, never filled with text
Assay made up.

Erasure here destroys the subject's key: the personal data sealed under it can no longer be read. Rows of uploaded
dataset files are not sealed per subject, so they stay in the listed files until a new dataset version without them
replaces them, and the pseudonym stays in the trail and the indexes. Pseudonymised data is still personal data
(GDPR Recital 26), so while any of that remains Assay never calls the subject "erased" without saying what remains.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from governance.citations import cite
from governance.data import crypto
from governance.data.ingest import IngestError, read_table
from governance.data.lineage import node_id
from governance.data.models import ConsentEvent, DatasetVersion, PersonalRecord, Subject
from governance.storage import local_path


@dataclass(frozen=True)
class Art15Item:
    """One piece of information Art. 15 requires, the setting that supplies it, and where the Regulation says so.

    The pin ("Art. 15(1)(a)") and the Regulation's words for the item come from the citations catalogue."""

    key: str
    citation_id: str  # in governance.citations, e.g. "gdpr/art-15/1/a"
    setting: str

    @property
    def point(self) -> str:
        """The pin cite, "Art. 15(1)(a)"."""
        return cite(self.citation_id).pin

    @property
    def wording(self) -> str:
        """The Regulation's words for what must be given."""
        return cite(self.citation_id).text


ART15_ITEMS: tuple[Art15Item, ...] = (
    Art15Item("purposes", "gdpr/art-15/1/a", "GDPR_PURPOSES"),
    Art15Item("categories", "gdpr/art-15/1/b", "GDPR_DATA_CATEGORIES"),
    Art15Item("recipients", "gdpr/art-15/1/c", "GDPR_RECIPIENTS"),
    Art15Item("retention", "gdpr/art-15/1/d", "GDPR_RETENTION"),
    Art15Item("rights", "gdpr/art-15/1/e", "GDPR_RIGHTS_CONTACT"),
    Art15Item("complaint", "gdpr/art-15/1/f", "GDPR_SUPERVISORY_AUTHORITY"),
    Art15Item("source", "gdpr/art-15/1/g", "GDPR_DATA_SOURCE"),
    Art15Item("automated_decisions", "gdpr/art-15/1/h", "GDPR_AUTOMATED_DECISIONS"),
    Art15Item("transfers", "gdpr/art-15/2", "GDPR_TRANSFER_SAFEGUARDS"),
)


def _gdpr(citation_id: str) -> str:
    """ "GDPR Art. 17": the catalogue's pin with the Regulation's short name, as the answers cite it."""
    record = cite(citation_id)
    return f"{record.act_short} {record.pin}"


# What the export holds, and what it does not: never "everything".
EXPORT_SCOPE = (
    "This export holds what Assay records about the subject: consent events and states, the personal data stored "
    "sealed under the subject's key, the dataset versions whose subject index holds the pseudonym with the rows found "
    "in their files, and the access and erasure requests handled. It does not copy the contents of those dataset "
    "rows (they are listed under dataset_rows, with the file that holds them), and it does not list the trail events "
    "and model findings that refer to the subject by pseudonym. The information of "
    f"{_gdpr('gdpr/art-15/1')}-(2) is under article_15; each item the controller has not configured is named there as "
    "a gap."
)


def _gap(item: Art15Item) -> str:
    return f"Not configured: the controller must add {item.wording} (setting {item.setting})."


def article_15_information(
    subject: Subject,
    *,
    consent_events: Sequence[ConsentEvent],
    holding: Sequence[DatasetVersion],
    models: Sequence[str],
) -> dict[str, Any]:
    """The Art. 15(1)(a)-(h) and 15(2) information for ``subject``: per item, the law's wording, what Assay's records
    say, what the controller configured, and the gap when the controller configured nothing."""
    purposes: dict[str, dict[str, str]] = {}
    declared_categories: set[str] = set()
    sources: set[str] = set()
    for event in consent_events:
        purpose = event.purpose
        purposes[purpose.code] = {
            "purpose": purpose.code,
            "description": purpose.description,
            "legal_basis": purpose.get_legal_basis_display(),
        }
        declared_categories.update(event.pii_categories or [])
        for value in (event.source, event.collection_method):
            if value:
                sources.add(f"consent record: {value}")
    for version in holding:
        if version.source:
            sources.add(f"{node_id(version)}: {version.source}")
    record_categories = sorted(set(PersonalRecord.objects.filter(subject=subject).values_list("category", flat=True)))
    records: dict[str, Any] = {
        "purposes": {"recorded_with_consent": sorted(purposes.values(), key=lambda p: p["purpose"])},
        "categories": {
            "sealed_personal_records": record_categories,
            "declared_in_consent_records": sorted(declared_categories),
            "dataset_columns": {node_id(v): [c.get("name") for c in v.schema or []] for v in holding},
        },
        "rights": {
            "under_the_regulation": (
                f"The data subject may request rectification ({_gdpr('gdpr/art-16')}) or erasure "
                f"({_gdpr('gdpr/art-17')}) of personal data, restriction of processing ({_gdpr('gdpr/art-18')}), "
                f"or object to processing ({_gdpr('gdpr/art-21')})."
            )
        },
        "complaint": {
            "under_the_regulation": (
                "The data subject has the right to lodge a complaint with a supervisory authority "
                f"({_gdpr('gdpr/art-77')})."
            )
        },
        "source": {"recorded": sorted(sources)},
        "automated_decisions": {
            # Training is not a decision about the subject; Assay does not record how these models are used.
            "model_versions_trained_on_data_holding_the_subject": list(models),
        },
    }
    items = []
    for item in ART15_ITEMS:
        configured = getattr(settings, item.setting, "") or None
        items.append(
            {
                "point": item.point,
                "citation": cite(item.citation_id).label,
                "information": item.wording,
                "from_records": records.get(item.key),
                "from_controller": configured,
                "gap": None if configured else _gap(item),
            }
        )
    controller = getattr(settings, "GDPR_CONTROLLER", "") or None
    return {
        "controller": controller,
        "controller_gap": None
        if controller
        else "Not configured: the controller's identity and contact details (setting GDPR_CONTROLLER).",
        "items": items,
        "gaps": [i["point"] for i in items if i["gap"]],
    }


def dataset_rows(pseudonym: str, holding: Iterable[DatasetVersion], *, key: bytes) -> list[dict[str, Any]]:
    """For each dataset version whose subject index holds ``pseudonym``: which file, and the rows in it whose subject
    id is this subject, found by reading the file's subject-id column and pseudonymising its values under ``key``
    (``rows`` is None, with the reason in ``rows_note``, when the file cannot be read). ``row_numbers`` count data
    rows from 1 (a CSV header is not a row)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    listed = []
    for version in holding:
        entry: dict[str, Any] = {
            "dataset": version.dataset.name,
            "version": version.number,
            "node": node_id(version),
            "file": version.original_name or version.file.name or version.external_uri,
            "sha256": version.sha256,
            "format": version.format,
            "subject_id_column": version.subject_id_column,
            "rows": None,
            "row_numbers": [],
            "rows_note": None,
        }
        listed.append(entry)
        try:
            table = read_table(
                local_path(version.file.name or "", sha256=version.sha256),
                fmt=version.format,
                delimiter=version.delimiter or ",",
                text_columns=[version.subject_id_column],
            )
            ids = table.column(version.subject_id_column)
            if not pa.types.is_string(ids.type):
                ids = pc.cast(ids, pa.string())
        except (IngestError, OSError, KeyError, ValueError, NotImplementedError, pa.ArrowException) as exc:
            entry["rows_note"] = f"The file could not be read to find the subject's rows: {exc}"
            continue
        # Pseudonymise each distinct id once, then find the rows holding the ids that are this subject.
        distinct = [v for v in pc.unique(ids).to_pylist() if v is not None and v.strip()]
        theirs = [v for v in distinct if crypto.pseudonym(v, key=key) == pseudonym]
        hits = pc.fill_null(pc.is_in(ids, value_set=pa.array(theirs, pa.string())), False)
        numbers = [i + 1 for i, hit in enumerate(hits.to_pylist()) if hit]
        entry["rows"], entry["row_numbers"] = len(numbers), numbers
    return listed


def erasure_statement(*, key_destroyed: bool, rows: Sequence[dict[str, Any]], records: int) -> dict[str, Any]:
    """What an erasure (key destruction) did and what remains, in words; ``complete`` only when nothing remains
    readable in Assay: no dataset file rows and the key gone. The pseudonym itself always remains."""
    still_held = [r for r in rows if r["rows"] is None or r["rows"] > 0]
    remains = []
    if still_held:
        files = "; ".join(
            f"{r['node']} ({r['file']}: {'rows not counted' if r['rows'] is None else r['rows']} row(s))"
            for r in still_held
        )
        remains.append(
            f"The subject's rows are still in these dataset files until a new version without them is registered: "
            f"{files}."
        )
    remains.append(
        "The pseudonym remains in the trail, the consent records and the dataset indexes; pseudonymised data "
        f"({_gdpr('gdpr/art-4/5')}) is still personal data ({_gdpr('gdpr/recital-26')})."
    )
    sealed = (
        f"the {records} personal record(s) sealed under it can no longer be read by anyone"
        if records
        else "no personal record was sealed under it"
    )
    done = (
        f"The subject's key is destroyed: {sealed}, and nothing more is stored about them."
        if key_destroyed
        else "The subject's key is not destroyed."
    )
    return {
        "key_destroyed": key_destroyed,
        "sealed_records_unreadable": records if key_destroyed else 0,
        "complete": False,
        "done": done,
        "remains": remains,
        "summary": " ".join([done, *remains]),
    }
