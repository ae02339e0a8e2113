"""The issue's first "done when": the demo's credit-scoring v2 shows its EU AI Act status with met and missing
obligations, each met one linked to a trail event whose inclusion proof verifies (with the standalone verifier), and
its Annex IV document is a signed PDF that pyHanko validates."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.test import override_settings

from audits.reports.signing import validate_pdf
from governance.exports.models import Export, Share
from governance.trail.log import Actor, prove_inclusion, root_at, tree_size
from governance.trail.models import Event
from governance.trail.verifier import verify_inclusion
from obligations.documentation import do_generate_annex_iv
from obligations.status import compliance_status
from registry.models import ModelVersion
from tests.data.test_seed_demo import _seed


@pytest.fixture
def trail_emptied_after(unprotected_trail: None) -> Iterator[None]:
    yield
    Share.objects.all().delete()
    Export.objects.all().delete()


@pytest.mark.django_db(transaction=True)
@override_settings(DEBUG=True, AUDIT_REQUIRED_POLICIES={"high": "eu-ai-act-high-risk", "limited": "baseline"})
def test_the_demos_credit_scoring_v2_shows_met_and_missing_eu_obligations(
    trail_emptied_after: None, media_root: Any
) -> None:
    _seed(StringIO())
    version = ModelVersion.objects.get(model__name="credit-scoring", number=2)
    status = compliance_status(version)
    eu = next(c for c in status["catalogues"] if c["name"] == "eu-ai-act-high-risk")
    met = [o for o in eu["obligations"] if o["status"] == "met"]
    missing = [o for o in eu["obligations"] if o["status"] == "missing"]
    assert met, eu["counts"]
    assert missing, eu["counts"]
    # v2 passed the high-risk audit and was approved: Arts. 9 and 15 are met by those events.
    assert {"art-9-risk-management", "art-15-accuracy-robustness"} <= {o["id"] for o in met}
    # Its Annex IV document downloads as a signed PDF that pyHanko validates.
    signed = do_generate_annex_iv(version=version, actor=Actor.system())
    assert validate_pdf(signed.pdf).valid
    size = tree_size()
    for line in met:
        assert line["evidence"], line
        for evidence in line["evidence"]:
            stored = Event.objects.get(seq=evidence["event"]["seq"])
            verify_inclusion(
                leaf_hash=bytes(stored.leaf_hash),
                index=stored.seq,
                tree_size=size,
                proof=prove_inclusion(seq=stored.seq, size=size),
                root=root_at(size),
            )
