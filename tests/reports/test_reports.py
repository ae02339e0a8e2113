"""Signed PDF reports of real audits: what they say, their form, their signature, their trail events."""

from __future__ import annotations

import hashlib
import io
import os
import re
import socket
import threading
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import onnxruntime
import pandas as pd
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from fairlearn.metrics import MetricFrame, count, selection_rate
from pypdf import PdfReader
from sklearn.metrics import accuracy_score

from audits import actions as audits
from audits.actions import canonical_sha256
from audits.models import AuditRun, Policy, Report
from audits.reports import charts as chart_module
from audits.reports import signing
from audits.reports.chart_cache import cached_charts
from audits.reports.charts import charts_for_results
from audits.reports.service import build_run_report, build_version_report, report_for_run, report_for_version
from governance.data.demo import DEMO_FEATURES
from governance.trail.log import Actor
from governance.trail.models import Checkpoint, Event
from registry import actions as registry
from tests.audits.conftest import PASSING_RATES, PREDICTION_ROLES, decision_rows, predictions_only_version, upload
from tests.conftest import Cast
from tests.reports.conftest import ROLES, Arranged, audit

API = "/api/v1"


def pages_text(pdf: bytes) -> tuple[PdfReader, list[str]]:
    reader = PdfReader(io.BytesIO(pdf))
    return reader, [page.extract_text() or "" for page in reader.pages]


def flat(text: str) -> str:
    """Extracted text with line breaks and runs of spaces as one space (tables wrap their cells)."""
    return re.sub(r"\s+", " ", text)


def outline_titles(reader: PdfReader) -> list[str]:
    titles: list[str] = []

    def walk(items: Any) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                titles.append(item.title)

    walk(reader.outline)
    return titles


def flip_byte(pdf: bytes, offset: int) -> bytes:
    changed = bytearray(pdf)
    changed[offset] ^= 0x01
    return bytes(changed)


def signed_range(pdf: bytes) -> list[int]:
    """The /ByteRange of the signature: [start1, length1, start2, length2] (the bytes the signature covers)."""
    match = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    assert match, "no /ByteRange: the PDF is not signed"
    return [int(x) for x in match.groups()]


def demo_model_numbers(arranged: Arranged) -> dict[str, Any]:
    """The audited model's accuracy and its age groups' counts and selection rates, computed here from the stored
    model's own decisions on the stored data (onnxruntime, fairlearn, scikit-learn), not read from the audit: the report
    must state what the model does on this machine, whatever the CPU."""
    with default_storage.open(arranged.dataset_version.file.name) as stored:
        table = pd.read_csv(stored)
    with default_storage.open(arranged.version.artifact.name) as stored:
        session = onnxruntime.InferenceSession(stored.read(), providers=["CPUExecutionProvider"])
    inputs = table[list(DEMO_FEATURES)].to_numpy(dtype=np.float32)
    decisions = np.asarray(session.run(None, {session.get_inputs()[0].name: inputs})[0])
    labels = table["credit_risk"].to_numpy()
    by_age = MetricFrame(  # selection_rate counts pos_label=1 (good risk, the favourable outcome) by default
        metrics={"count": count, "rate": selection_rate},
        y_true=labels,
        y_pred=decisions,
        sensitive_features=table["age_group"].to_numpy(),
    ).by_group
    return {
        "accuracy": accuracy_score(labels, decisions),
        "young_count": int(by_age.loc["<=25", "count"]),
        "young_rate": by_age.loc["<=25", "rate"],
        "young_ratio": by_age.loc["<=25", "rate"] / by_age.loc[">25", "rate"],
    }


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network connection fails the test (validation must be offline); with
    ASSAY_TEST_STORAGE=s3 (tests/settings.py), but for storing the report in the test's bucket."""
    store = urlsplit(os.environ.get("ASSAY_TEST_S3_ENDPOINT", ""))
    allowed = (store.hostname, store.port) if store.hostname else None

    def only_the_store(real: Any, address_of: Any) -> Any:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            if allowed is not None and address_of(args) == allowed:
                return real(*args, **kwargs)
            raise AssertionError("validation tried to use the network")

        return refuse

    def first_tuple(args: Any) -> Any:
        return next((tuple(arg[:2]) for arg in args if isinstance(arg, tuple)), None)

    monkeypatch.setattr(socket.socket, "connect", only_the_store(socket.socket.connect, first_tuple))
    monkeypatch.setattr(socket, "create_connection", only_the_store(socket.create_connection, first_tuple))
    monkeypatch.setattr(socket, "getaddrinfo", only_the_store(socket.getaddrinfo, lambda args: tuple(args[:2])))


@pytest.mark.django_db
def test_the_run_report_states_every_section_and_the_verdict(
    cast: Cast, german_full: Arranged, no_network: None
) -> None:
    run = german_full.run
    seq = Event.objects.order_by("-seq").values_list("seq", flat=True).first()
    report = report_for_run(run, actor=Actor.for_user(cast.owner.user))
    pdf = report.read_bytes()
    reader, pages = pages_text(pdf)
    text = flat(" ".join(pages))

    # The cover: model, version, risk tier, policy and its version, verdict, date, report id.
    cover = flat(pages[0])
    for expected in (
        "credit-scoring",
        "v1 (draft)",
        "High risk (Art. 6, Annex III)",
        f"report-full v{run.policy_version.number}",
        "Verdict: FAIL",
        str(report.pk),
        "UTC",
    ):
        assert expected in cover, expected
    # Every required section, and the table of contents naming them.
    sections = [
        "Contents",
        "Executive summary",
        "What failed, and why it matters",
        "What passed",
        "Model card",
        "Risk classification",
        "Data and lineage",
        "Lineage runs",
        "Consent coverage",
        f"Audit run #{run.pk}: report-full",
        "Audit inputs and reproduction",
        "Performance: FAIL",
        "Group fairness: FAIL",
        "Disparate impact: FAIL",
        "Data quality: PASS",
        "Explainability (SHAP): FAIL",  # age, an input, determines age_group: its attribution counts (issue 16)
        "Adversarial robustness: PASS",
        "Approvals and sign-offs",
        "Regulation map",
        "Audit trail events",
        "Checkpoint",
    ]
    for section in sections:
        assert section in text, section
    assert "Features counted in the protected share" in text
    assert "age Cramér's V 1.00 with age_group" in text
    contents = flat(pages[1])
    assert "Executive summary" in contents
    assert "Regulation map" in contents
    assert "Audit trail events" in contents
    # The regulation map names every article and NIST function (its rows: tests/reports/test_regulation_map.py).
    assert "EU AI Act, Regulation (EU) 2024/1689" in text
    for article in ("Art. 9", "Art. 10", "Art. 11", "Art. 12", "Art. 13", "Art. 14", "Art. 15"):
        # A row's item: the article, perhaps pinned to a paragraph ("Art. 12(1)") or with its annex.
        assert re.search(rf"{re.escape(article)}(\(\d+\))?(, Annex [IVX]+)?:", text), article
    assert "NIST AI RMF 1.0" in text
    for function in ("GOVERN", "MAP", "MEASURE", "MANAGE"):
        assert f"{function}:" in text, function
    # Real text, not images of text: the numbers of the failing checks, in words and figures.
    expected = demo_model_numbers(german_full)
    assert expected["young_ratio"] < 0.8  # the demo model's findings
    assert expected["accuracy"] < 0.7
    assert f"impact ratio {expected['young_ratio']:.3f} against age_group=>25 is below 0.8" in text
    assert f"accuracy {expected['accuracy']:.3f} is below 0.7" in text
    assert "Why it matters" in text
    # Data: the datasets' hashes and the consent counts (1,000 subjects, 39 consenting, 1 withdrawn).
    assert german_full.dataset_version.sha256 in text.replace(" ", "")
    assert re.search(r"model_training 1,000 39 1 0 960", text), "consent coverage counts"
    # Approvals and sign-offs name people, roles and times; the run was started by the owner.
    assert f"started audit run #{run.pk} omar owner" in text
    # Page numbers on every page, an outline (bookmarks) and the document's metadata.
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
    assert report.pages == len(pages) >= 12
    titles = outline_titles(reader)
    assert {"Executive summary", "Model card", "Regulation map", "Audit trail events"} <= set(titles)
    assert reader.metadata is not None
    assert reader.metadata.title == "Audit of credit-scoring v1 under report-full"
    assert reader.trailer["/Root"].get("/Lang") == "en"
    assert sum(len(page.images) for page in reader.pages) == 10  # every chart is in
    # The trail events of this run with their leaf hashes, and a checkpoint that includes them.
    completed = Event.objects.get(action="audit.completed", object_id=str(run.pk))
    assert bytes(completed.leaf_hash).hex() in text.replace(" ", "")
    checkpoint = Checkpoint.objects.filter(tree_size__gt=completed.seq).order_by("id").first()
    assert checkpoint is not None
    assert bytes(checkpoint.root_hash).hex() in text.replace(" ", "")

    # The stored bytes are the signed ones, and their hash is what the trail records.
    assert hashlib.sha256(pdf).hexdigest() == report.sha256
    assert len(pdf) == report.size
    generated, signed = Event.objects.filter(seq__gt=seq, action__startswith="report.").order_by("seq")
    assert (generated.action, signed.action) == ("report.generated", "report.signed")
    assert generated.payload["report"] == signed.payload["report"] == str(report.pk)
    assert generated.payload["kind"] == "run"
    assert generated.payload["run"] == run.pk
    assert generated.payload["sha256"] == report.unsigned_sha256 != report.sha256
    assert signed.payload["sha256"] == report.sha256
    assert signed.payload["size"] == len(pdf)
    certificate = signing.signing_certificate_pem()

    der = x509.load_pem_x509_certificate(certificate).public_bytes(Encoding.DER)
    assert (
        signed.payload["signer_certificate_sha256"]
        == hashlib.sha256(der).hexdigest()
        == report.signer_certificate_sha256
    )
    assert (generated.actor_kind, generated.actor_user_id) == ("user", cast.owner.user.pk)

    # The signature validates offline (the network is refused by the fixture) and covers the whole file.
    result = signing.validate_pdf(pdf)
    assert result.valid, result.message
    assert result.signer_certificate_sha256 == report.signer_certificate_sha256
    # One changed byte inside the signed range (in the document's content, far from the signature) fails.
    _start1, length1, start2, length2 = signed_range(pdf)
    for offset in (length1 // 2, start2 + length2 // 2):
        tampered = signing.validate_pdf(flip_byte(pdf, offset))
        assert not tampered.valid, offset
    # Trusting another certificate: not trusted.
    other = signing.generate_identity_pem(common_name="someone else")
    assert not signing.validate_pdf(pdf, trusted_cert_pem=other[other.index(b"-----BEGIN CERTIFICATE-----") :]).valid

    # Asking again returns the same stored report: nothing new is built or recorded.
    count = Event.objects.count()
    assert report_for_run(run, actor=Actor.for_user(cast.owner.user)).pk == report.pk
    assert Event.objects.count() == count


@pytest.mark.django_db
def test_a_version_report_covers_every_run_and_the_ll144_table_and_charts_render_for_every_check(
    cast: Cast, german_full: Arranged
) -> None:
    # Charts of every check type, PNG for the PDF and SVG for the portal, the same bytes for the same results.
    results = german_full.run.results
    png = charts_for_results(results, fmt="png")
    svg = charts_for_results(results, fmt="svg")
    assert {c.check for c in png} == {
        "group_fairness",
        "disparate_impact",
        "performance",
        "data_quality",
        "explainability",
        "adversarial",
    }
    assert len(png) == 10
    assert all(isinstance(c.image, bytes) and c.image.startswith(b"\x89PNG") for c in png)
    assert all(isinstance(c.image, str) and "<svg" in c.image and "age_group" in c.image for c in svg[:4])
    assert [c.image for c in charts_for_results(results, fmt="png")] == [c.image for c in png]
    assert [c.image for c in charts_for_results(results, fmt="svg")] == [c.image for c in svg]

    ll144 = audit(
        cast,
        german_full.version,
        german_full.dataset_version,
        "nyc-ll144",
        {**ROLES, "protected": ["sex", "age_group"]},
    )
    assert ll144.status == "done"
    report = report_for_version(german_full.version, actor=Actor.for_user(cast.officer.user))
    assert report.kind == "version"
    assert report.run is None
    _, pages = pages_text(report.read_bytes())
    text = flat(" ".join(pages))
    assert f"Audit run #{german_full.run.pk}: report-full" in text
    assert f"Audit run #{ll144.pk}: nyc-ll144" in text
    assert f"Bias audit summary (NYC Local Law 144; run #{ll144.pk})" in text
    assert "Number of applicants" in text
    assert "Impact ratio" in text
    # Category, applicants, number selected, selection rate, impact ratio (cut to 3 decimals, against the most
    # selected age group, the older applicants), as the LL144 summary lays them out.
    expected = demo_model_numbers(german_full)
    selected = round(expected["young_rate"] * expected["young_count"])
    row = f"<=25 {expected['young_count']} {selected} {100 * expected['young_rate']:.1f}%"
    assert expected["young_count"] == 190  # applicants aged 25 or under in german.data
    assert row in text
    assert f"{int(expected['young_ratio'] * 1000) / 1000:.3f} (" in text
    assert "Verdict: FAIL" in flat(pages[0])
    assert signing.validate_pdf(report.read_bytes()).valid
    # Still current: the same report; a new approval-relevant fact (a submission) makes a new one.
    assert report_for_version(german_full.version, actor=Actor.system()).pk == report.pk

    registry.do_submit(version=german_full.version, user=cast.owner.user, actor=Actor.for_user(cast.owner.user))
    german_full.version.refresh_from_db()
    newer = report_for_version(german_full.version, actor=Actor.system())
    assert newer.pk != report.pk
    assert "submitted for review" in flat(" ".join(pages_text(newer.read_bytes())[1]))


@pytest.mark.django_db
def test_the_api_builds_lists_and_serves_reports_and_hides_other_teams(cast: Cast, small_run: Arranged) -> None:
    run = small_run.run
    owner = cast.owner.client()
    seq = Event.objects.order_by("-seq").values_list("seq", flat=True).first()
    created = owner.post(f"{API}/audits/{run.pk}/reports/")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["kind"] == "run"
    assert body["run"] == run.pk
    assert body["verdict"] == "fail"
    assert body["model"] == small_run.version.model.name
    assert body["version"] == 1
    report = Report.objects.get(pk=body["id"])
    assert body["sha256"] == report.sha256
    assert [e.action for e in Event.objects.filter(seq__gt=seq, action__startswith="report.")] == [
        "report.generated",
        "report.signed",
    ]
    listed = owner.get(f"{API}/audits/{run.pk}/reports/").json()
    assert [r["id"] for r in listed["results"]] == [body["id"]]
    assert cast.reviewer.client().get(f"{API}/reports/{body['id']}/").json()["sha256"] == report.sha256
    download = cast.read_only.client().get(body["pdf"])
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith("attachment; filename=")
    assert download["ETag"] == f'"{report.sha256}"'
    assert hashlib.sha256(download.content).hexdigest() == report.sha256
    assert signing.validate_pdf(download.content).valid
    assert cast.owner.client().get(body["pdf"], HTTP_IF_NONE_MATCH=f'"{report.sha256}"').status_code == 304
    version = owner.post(f"{API}/models/{small_run.version.model.name}/versions/1/reports/")
    assert version.status_code == 201
    assert version.json()["kind"] == "version"

    # Another team's owner: 404 for the run, its reports and the PDF, and nothing is built.
    outsider = cast.outsider.client()
    before = Report.objects.count()
    for response in (
        outsider.post(f"{API}/audits/{run.pk}/reports/"),
        outsider.get(f"{API}/audits/{run.pk}/reports/"),
        outsider.get(f"{API}/reports/{body['id']}/"),
        outsider.get(body["pdf"]),
        outsider.post(f"{API}/models/{small_run.version.model.name}/versions/1/reports/"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert Report.objects.count() == before
    # A regulator sees nothing that was not shared with them.
    assert cast.regulator.client().get(body["pdf"]).status_code == 404
    # The OpenAPI schema documents the endpoints.
    schema = cast.officer.client().get("/api/schema/?format=json").json()
    for path in ("/api/v1/audits/{id}/reports/", "/api/v1/reports/{id}/pdf", "/api/v1/reports/{id}/"):
        assert path in schema["paths"], path
    assert "/api/v1/models/{name}/versions/{number}/reports/" in schema["paths"]


@pytest.mark.django_db
def test_an_incomplete_run_is_refused_with_the_reason(cast: Cast, media_root: Any) -> None:
    audits.ensure_builtin_policies()
    version = predictions_only_version(cast)
    queued, _ = audits.do_start_audit(
        user=cast.owner.user,
        actor=Actor.for_user(cast.owner.user),
        model_version=version,
        dataset_version=upload(cast, decision_rows(PASSING_RATES)),
        policy_version=Policy.objects.get(name="four-fifths").latest_version(),
        column_roles=dict(PREDICTION_ROLES),
    )
    assert queued.status == "queued"  # its job runs on commit, which this test's transaction never reaches
    seq = Event.objects.order_by("-seq").values_list("seq", flat=True).first()
    refused = cast.owner.client().post(f"{API}/audits/{queued.pk}/reports/")
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "report_refused"
    assert f"Audit run {queued.pk} is queued" in error["message"]
    assert "once it is complete" in error["message"]
    # A run that ended in error has no results to report, and says why.
    AuditRun.objects.filter(pk=queued.pk).update(status="error", error="The evaluation dataset cannot be read.")
    refused = cast.owner.client().post(f"{API}/audits/{queued.pk}/reports/")
    assert refused.status_code == 409
    assert "ended in error" in refused.json()["error"]["message"]
    assert "cannot be read" in refused.json()["error"]["message"]
    assert not Report.objects.exists()
    assert not Event.objects.filter(seq__gt=seq, action__startswith="report.").exists()
    with pytest.raises(Exception, match="ended in error"):
        build_run_report(AuditRun.objects.get(pk=queued.pk), actor=Actor.system())
    # A version with no completed run still has a report: insufficient evidence, saying so.
    report = build_version_report(version, actor=Actor.system())
    assert report.verdict == "insufficient_evidence"
    assert "has no completed audit run" in flat(" ".join(pages_text(report.read_bytes())[1]))


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_use_creates_one_certificate(settings: Any, tmp_path: Any) -> None:
    settings.REPORT_KEY_DIR = str(tmp_path / "keys")
    barrier = threading.Barrier(8)
    found: list[bytes] = []
    errors: list[BaseException] = []

    def first_use() -> None:
        try:
            barrier.wait()
            found.append(signing.signing_certificate_pem())
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(found) == 8
    assert len(set(found)) == 1
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == ["report-signing.pem"]


@pytest.mark.django_db
def test_configured_certificate_and_key_files_are_used(
    cast: Cast, small_run: Arranged, settings: Any, tmp_path: Any
) -> None:
    pem = signing.generate_identity_pem(common_name="Configured signer")
    split = pem.index(b"-----BEGIN CERTIFICATE-----")
    (tmp_path / "key.pem").write_bytes(pem[:split])
    (tmp_path / "cert.pem").write_bytes(pem[split:])
    generated = signing.signing_certificate_pem()
    settings.REPORT_SIGNING_KEY_FILE = str(tmp_path / "key.pem")
    settings.REPORT_SIGNING_CERT_FILE = str(tmp_path / "cert.pem")
    assert signing.signing_certificate_pem() == pem[split:]

    report = build_run_report(small_run.run, actor=Actor.system())

    der = x509.load_pem_x509_certificate(pem[split:]).public_bytes(Encoding.DER)
    assert report.signer_certificate_sha256 == hashlib.sha256(der).hexdigest()
    pdf = report.read_bytes()
    assert signing.validate_pdf(pdf).valid  # trusts the configured certificate
    assert not signing.validate_pdf(pdf, trusted_cert_pem=generated).valid  # not the generated one

    # A key that does not belong to the certificate is refused before anything is signed.
    other = signing.generate_identity_pem(common_name="other")
    (tmp_path / "key.pem").write_bytes(other[: other.index(b"-----BEGIN CERTIFICATE-----")])
    with pytest.raises(signing.SigningError, match="does not belong"):
        build_run_report(small_run.run, actor=Actor.system())


@pytest.mark.django_db
def test_the_report_command_writes_a_signed_pdf_and_the_certificate(
    cast: Cast, small_run: Arranged, tmp_path: Any
) -> None:
    out, cert = tmp_path / "report.pdf", tmp_path / "cert.pem"
    stdout = io.StringIO()
    call_command("report", "--run", str(small_run.run.pk), "--out", str(out), "--cert-out", str(cert), stdout=stdout)
    report = Report.objects.get()
    assert out.read_bytes() == report.read_bytes()
    assert report.sha256 in stdout.getvalue()
    assert signing.validate_pdf(out.read_bytes(), trusted_cert_pem=cert.read_bytes()).valid
    version_out = tmp_path / "version.pdf"
    model = small_run.version.model.name
    call_command("report", "--model", model, "--version", "1", "--out", str(version_out), "--as", "omar", stdout=stdout)
    assert Report.objects.get(kind="version").created_by == cast.owner.user

    with pytest.raises(CommandError, match="Give --run"):
        call_command("report", "--model", model, "--out", str(version_out))


def _text_and_images(pdf: bytes, report_id: str) -> tuple[list[str], list[bytes]]:
    """Each page's text with the report id and the times of day left out (they differ between two builds), and
    every embedded image's bytes."""
    reader, pages = pages_text(pdf)
    times = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")
    texts = [times.sub("<time>", flat(page).replace(report_id, "<report>")) for page in pages]
    return texts, [image.data for page in reader.pages for image in page.images]


@pytest.mark.django_db
def test_charts_are_drawn_once_per_results_and_a_warm_cache_changes_nothing_in_the_report(
    cast: Cast, german_full: Arranged, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.clear()
    run = german_full.run
    # A cached chart is byte for byte the freshly rendered one, in both formats, under the results' hash.
    digest = chart_module.results_digest(run.results)
    assert digest == canonical_sha256(run.results)
    for fmt in ("png", "svg"):
        fresh = charts_for_results(run.results, fmt=fmt)
        stored = cached_charts(run.results, fmt=fmt)  # drawn now, and kept
        again = cached_charts(run.results, fmt=fmt)  # from the cache
        assert [(c.key, c.title, c.caption, c.image) for c in stored] == [
            (c.key, c.title, c.caption, c.image) for c in fresh
        ]
        assert [c.image for c in again] == [c.image for c in fresh]
        for chart in fresh:
            assert cache.get(chart_module.chart_cache_key(digest, chart.key, fmt)) == chart.image

    # A report built with every chart drawn, and one built from the cache, say and show the same.
    cache.clear()
    actor = Actor.for_user(cast.owner.user)
    cold = build_run_report(run, actor=actor)

    def no_drawing(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a cached chart was drawn again")

    monkeypatch.setattr(chart_module.core, "_render", no_drawing)  # every chart is rendered there
    warm = build_run_report(run, actor=actor)
    cold_text, cold_images = _text_and_images(cold.read_bytes(), str(cold.pk))
    warm_text, warm_images = _text_and_images(warm.read_bytes(), str(warm.pk))
    assert cold.pages == warm.pages
    assert warm_text == cold_text
    assert "Figure: Selection rate by group." in " ".join(warm_text)
    assert len(warm_images) == 10
    assert warm_images == cold_images
    # The version report shows the same run: its charts come from the cache too (drawing would fail here).
    assert build_version_report(german_full.version, actor=actor).verdict == cold.verdict
