"""The organisation's statement of applicability for ISO/IEC 42001:2023 (clause 6.1.3): each Annex A control of the
``iso-42001`` catalogue, applicable or not, with the justification, the implementation status and the document that
shows it; exported as JSON, CSV and a signed PDF. A control no officer has decided on is listed as undecided, never
as applicable by default. Each decision is a trail event holding the justification's hash.
"""

from __future__ import annotations

import csv
import hashlib
import io
from typing import Any
from xml.sax.saxutils import escape

from django.db import transaction
from django.utils import timezone

from governance.access.actions import require_scope
from governance.trail.log import Actor, record_event
from obligations import events
from obligations.actions import DECIDE_SCOPE, MAX_REASON_CHARS, SHA256_HEX, ObligationError, ensure_builtin_catalogues
from obligations.catalogues import load_catalogue
from obligations.models import CatalogueVersion, Implementation, SoaEntry

CATALOGUE = "iso-42001"
COLUMNS = (
    "control",
    "title",
    "summary",
    "decision",
    "justification",
    "implementation",
    "document",
    "document_sha256",
    "decided_by",
    "decided_at",
    "trail_event",
)


def _controls() -> list[Any]:
    ensure_builtin_catalogues()
    stored = CatalogueVersion.objects.filter(catalogue__name=CATALOGUE).order_by("-number").first()
    if stored is None:  # pragma: no cover - the built-in is always stored by ensure_builtin_catalogues
        return []
    return list(load_catalogue(stored.text).obligations)


def do_set_soa_entry(
    *,
    user: Any,
    actor: Actor,
    control: str,
    applicable: bool,
    justification: str,
    implementation: str = "",
    document_name: str = "",
    document_sha256: str = "",
) -> SoaEntry:
    """Record the organisation's decision on one Annex A control (an officer's act)."""
    require_scope(user, DECIDE_SCOPE, "decide on the statement of applicability", error=ObligationError)
    if control not in {o.control for o in _controls()}:
        raise ObligationError(
            f"No Annex A control {control!r} in {CATALOGUE}.", field="control", status=404, code="not_found"
        )
    justification = justification.strip() if isinstance(justification, str) else ""
    if not justification or len(justification) > MAX_REASON_CHARS:
        raise ObligationError(f"Justify the decision (at most {MAX_REASON_CHARS} characters).", field="justification")
    if applicable and implementation not in Implementation.values:
        raise ObligationError(
            f"An applicable control needs its implementation: one of {', '.join(Implementation.values)}.",
            field="implementation",
        )
    if not applicable and implementation:
        raise ObligationError("An excluded control has no implementation status.", field="implementation")
    digest = document_sha256.strip().lower()
    if digest and (len(digest) != 64 or not set(digest) <= SHA256_HEX):
        raise ObligationError("document_sha256 must be 64 hex digits.", field="document_sha256")
    if bool(digest) != bool(document_name.strip()):
        raise ObligationError("Give both the document's name and its SHA-256, or neither.", field="document_name")
    with transaction.atomic():
        event = record_event(
            events.SOA_ENTRY_SET,
            actor=actor,
            object_type="obligations.soa",
            object_id=control,
            payload={
                "control": control,
                "applicable": applicable,
                "implementation": implementation or None,
                "justification_sha256": hashlib.sha256(justification.encode("utf-8")).hexdigest(),
                "document_sha256": digest or None,
            },
        )
        return SoaEntry.objects.create(
            control=control,
            applicable=applicable,
            justification=justification,
            implementation=implementation,
            document_name=document_name.strip(),
            document_sha256=digest,
            decided_by=user,
            event_seq=event.seq,
        )


def statement() -> list[dict[str, Any]]:
    """One row per Annex A control, in the catalogue's order, with the decision in force (or undecided)."""
    latest: dict[str, SoaEntry] = {}
    for decided in SoaEntry.objects.select_related("decided_by").order_by("decided_at", "id"):
        latest[decided.control] = decided
    rows = []
    for control in _controls():
        entry = latest.get(control.control)
        row: dict[str, Any] = {"control": control.control, "title": control.title, "summary": control.summary}
        if entry is None:
            row.update(dict.fromkeys(COLUMNS[3:], ""))
            row["decision"] = "undecided"
        else:
            row.update(
                {
                    "decision": "applicable" if entry.applicable else "excluded",
                    "justification": entry.justification,
                    "implementation": entry.implementation,
                    "document": entry.document_name,
                    "document_sha256": entry.document_sha256,
                    "decided_by": entry.decided_by.get_username(),
                    "decided_at": entry.decided_at.isoformat(),
                    "trail_event": entry.event_seq,
                }
            )
        rows.append(row)
    return rows


def _cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula (OWASP: CSV injection)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def soa_csv(rows: list[dict[str, Any]]) -> str:
    """The statement as CSV, one row per control, formula-like cells neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(row[column]) for column in COLUMNS])
    return out.getvalue()


def soa_pdf(rows: list[dict[str, Any]]) -> bytes:
    """The statement as a PDF table (unsigned; the caller signs it)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=7, leading=8)
    title = "ISO/IEC 42001:2023 statement of applicability"
    header = ["Control", "Assay's summary", "Decision", "Justification", "Implementation", "Document (sha256)"]
    data = [[Paragraph(escape(h), small) for h in header]]
    for row in rows:
        document = f"{row['document']} ({row['document_sha256']})" if row["document"] else ""
        cells = [row["control"], row["summary"], row["decision"], row["justification"], row["implementation"], document]
        data.append([Paragraph(escape(str(c)), small) for c in cells])
    table = Table(data, colWidths=[45, 230, 55, 230, 65, 150], repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    out = io.BytesIO()
    intro = (
        f"Generated by Assay on {timezone.now().isoformat()}. Control ids are the standard's; titles and summaries are "
        "Assay's own words (the standard's text is not reproduced). Undecided controls are listed as undecided."
    )
    SimpleDocTemplate(out, pagesize=landscape(A4), title=title, author="Assay").build(
        [Paragraph(escape(title), styles["Title"]), Paragraph(escape(intro), styles["Normal"]), table]
    )
    return out.getvalue()
