"""The version page shows imported evidence with its measurements, and imports a file through the same action as the
API; a refused file is said in words on the page and changes nothing."""

from __future__ import annotations

import re
from pathlib import Path

from django.urls import reverse

from audits.evidence.models import EvidenceImport
from registry.models import ModelVersion
from tests.api import db_state
from tests.conftest import Cast
from tests.evidence import files
from tests.portal.conftest import signed_in


def _page(version: ModelVersion) -> str:
    return reverse("registry-portal:version-detail", args=[version.model.name, version.number])


def _upload_url(version: ModelVersion) -> str:
    return reverse("registry-portal:version-evidence-upload", args=[version.model.name, version.number])


def test_an_owner_imports_a_file_on_the_version_page_and_sees_its_measurements(
    cast: Cast, llm_version: ModelVersion, tmp_path: Path
) -> None:
    client = signed_in(cast.owner)
    assert "No evidence imported for v1 yet." in client.get(_page(llm_version)).content.decode()
    with files.INSPECT_LARGE_EVAL.open("rb") as handle:
        response = client.post(_upload_url(llm_version), {"file": handle, "tool": "inspect"}, follow=True)
    page = response.content.decode()
    assert response.status_code == 200
    item = EvidenceImport.objects.get(version=llm_version)
    assert f"sha256 {item.sha256}" in page  # the message, and the file's hash on the panel
    rows = [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
        for row in re.findall(r'<tr data-testid="evidence-measurement">(.*?)</tr>', page, flags=re.S)
    ]
    assert ["arithmetic_large", "accuracy", "0.850", "600", "510", "yes"] in rows


def test_a_refused_file_is_said_on_the_page_and_changes_nothing(
    cast: Cast, llm_version: ModelVersion, tmp_path: Path
) -> None:
    client = signed_in(cast.owner)
    before = db_state()
    with files.PROMPTFOO.open("rb") as handle:
        response = client.post(_upload_url(llm_version), {"file": handle, "tool": "garak"})
    assert response.status_code == 422
    assert "not garak&#x27;s" in response.content.decode()
    assert db_state() == before


def test_a_reviewer_sees_the_panel_without_the_form_and_cannot_post(
    cast: Cast, llm_version: ModelVersion, tmp_path: Path
) -> None:
    client = signed_in(cast.reviewer)
    page = client.get(_page(llm_version)).content.decode()
    assert 'id="imported-evidence"' in page
    assert "Import a result file" not in page
    with files.PROMPTFOO.open("rb") as handle:
        assert client.post(_upload_url(llm_version), {"file": handle}).status_code == 403
    assert not EvidenceImport.objects.exists()
    assert signed_in(cast.outsider).get(_page(llm_version)).status_code == 404
