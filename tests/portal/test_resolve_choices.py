"""The resolve form offers "retire" only to whom the action lets retire the version, and says why otherwise."""

from __future__ import annotations

import re

import pytest

from registry.actions import retire_resolution_refusal
from registry.models import Finding, FindingStatus, ModelVersion
from tests.conftest import Cast
from tests.portal.conftest import signed_in
from tests.registry.conftest import (  # noqa: F401 - fixtures
    Walk,
    make_version,
    minimal_draft,
    minimal_risk_model,
    walk,
)


@pytest.mark.django_db
def test_retire_is_offered_to_a_deployer_and_explained_to_a_reviewer(
    cast: Cast,
    minimal_draft: ModelVersion,  # noqa: F811 - the fixture
    walk: Walk,  # noqa: F811 - the fixture
) -> None:
    version = walk(minimal_draft, "deployed")
    Finding.objects.create(
        version=version, kind="drift_alert", cause="ladder", title="Drift", details={}, status=FindingStatus.OPEN
    )
    url = f"/models/{version.model.name}/versions/{version.number}/"

    def options(member) -> tuple[list[str], str]:
        page = signed_in(member).get(url)
        assert page.status_code == 200
        text = page.content.decode()
        select = re.search(r'name="resolution">(.*?)</select>', text, re.S)
        assert select, "the resolve form is shown"
        return re.findall(r'<option value="(\w+)"', select.group(1)), text

    offered, _ = options(cast.officer)
    assert offered == ["retrain", "accept", "retire"]
    offered, text = options(cast.reviewer)
    assert offered == ["retrain", "accept"]

    refusal = retire_resolution_refusal(cast.reviewer.user, version)
    assert refusal is not None
    assert f"Retire is not offered: {refusal}" in text  # the action's own words
