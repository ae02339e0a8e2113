"""Data governance asks the registry about model versions through its hooks (``governance.data.hooks``), which the
registry answers at start-up: a finding is opened once per model version and cause, a version is found only by who
may see its model, and a hook nobody answers is an error, never a silent answer.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404

from governance.data import hooks
from registry.models import Finding, FindingStatus
from tests.conftest import Cast
from tests.data.conftest import make_model, make_model_version


def test_a_finding_is_opened_once_per_model_version_and_cause(cast: Cast) -> None:
    version = make_model_version(cast, make_model(cast, "scorer"))
    asked = {"kind": "subject_erased", "title": "A subject asked for erasure", "details": {"subject": "ab" * 32}}

    first = hooks.open_model_finding(version, cause="subject_erased::ab", **asked)
    again = hooks.open_model_finding(version, cause="subject_erased::ab", **asked)
    other = hooks.open_model_finding(version, cause="subject_erased::cd", **asked)

    assert again is None
    opened = Finding.objects.filter(version=version).order_by("pk")
    assert [f.pk for f in opened] == [first.pk, other.pk]
    assert [(f.cause, f.status, f.title) for f in opened] == [
        ("subject_erased::ab", FindingStatus.OPEN, "A subject asked for erasure"),
        ("subject_erased::cd", FindingStatus.OPEN, "A subject asked for erasure"),
    ]


def test_a_model_version_is_found_only_by_who_may_see_its_model(cast: Cast) -> None:
    version = make_model_version(cast, make_model(cast, "scorer"))

    assert hooks.visible_model_version(cast.owner.user, "scorer", version.number) == version
    assert hooks.visible_model_version(cast.owner.user, "scorer", version.number + 1) is None
    assert hooks.visible_model_version(cast.outsider.user, "scorer", version.number) is None
    assert hooks.access_model_version(cast.owner.user, "scorer", version.number) == version
    with pytest.raises(Http404):
        hooks.access_model_version(cast.outsider.user, "scorer", version.number)


@pytest.mark.parametrize("name", ["_open_model_finding", "_visible_model_version", "_access_model_version"])
def test_a_hook_nobody_answers_is_an_error(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setattr(hooks, name, None)
    ask: dict[str, Any] = {
        "_open_model_finding": lambda: hooks.open_model_finding(None, kind="k", cause="c", title="t", details={}),
        "_visible_model_version": lambda: hooks.visible_model_version(None, "scorer", 1),
        "_access_model_version": lambda: hooks.access_model_version(None, "scorer", 1),
    }
    with pytest.raises(ImproperlyConfigured, match=name.lstrip("_")):
        ask[name]()
