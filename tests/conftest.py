"""The shared cast of users (STYLE.md) and helpers every test uses."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.conf import settings as configured_settings
from django.db import connection
from rest_framework.test import APIClient

from governance import storage_config
from governance.access.actions import do_create_user, do_issue_token
from governance.access.models import User
from governance.trail.db import drop_triggers, install_triggers
from governance.trail.log import Actor
from tests.storage.conftest import ACCESS_KEY, REGION, SECRET_KEY

PASSWORD = "correct horse battery staple 42"


@dataclass
class Member:
    """A user of the cast and a full-rights API token of theirs."""

    user: User
    token: str

    def client(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.token}")
        return client


@dataclass
class Cast:
    admin: Member
    officer: Member
    owner: Member  # team credit-risk
    reviewer: Member  # team credit-risk
    outsider: Member  # an owner in another team (hiring)
    regulator: Member
    ci: Member
    read_only: Member  # the owner, through a read-only token

    def members(self) -> dict[str, Member]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _member(username: str, role: str, teams: list[str], *, read_only: bool = False, user: User | None = None) -> Member:
    if user is None:
        password = None if role == "ci" else PASSWORD
        user = do_create_user(username=username, role=role, teams=teams, password=password, actor=Actor.system())
    token = do_issue_token(user=user, actor=Actor.system(), read_only=read_only, days=30)
    return Member(user=user, token=token.raw)


@pytest.fixture
def cast(db: Any) -> Cast:
    owner = _member("omar", "owner", ["credit-risk"])
    return Cast(
        admin=_member("ada", "admin", []),
        officer=_member("olivia", "officer", []),
        owner=owner,
        reviewer=_member("rhea", "reviewer", ["credit-risk"]),
        outsider=_member("otto", "owner", ["hiring"]),
        regulator=_member("regina", "regulator", []),
        ci=_member("ci-bot", "ci", []),
        read_only=_member("omar", "owner", [], read_only=True, user=owner.user),
    )


def sha256_text(text: str) -> str:
    """What the trail holds for a free-text reason: its SHA-256, never the text (governance.trail.leaf)."""
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


@pytest.fixture
def unprotected_trail(transactional_db: Any) -> Iterator[None]:
    """For transactional tests that write the trail: empties the append-only tables after the test.

    Test-database teardown deletes every row, which the triggers rightly refuse; so the triggers are dropped,
    the trail emptied, and the triggers re-installed, before pytest-django's flush finds empty tables.
    """
    yield
    drop_triggers(connection)
    with connection.cursor() as cursor:
        for table in ("governance_checkpoint", "governance_signingkey", "governance_merklenode", "governance_event"):
            cursor.execute(f'DELETE FROM "{table}"')
    install_triggers(connection)


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    """Stored files go to a folder of this test's own (the child processes are told where)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


@pytest.fixture(autouse=True)
def fresh_bucket(request: pytest.FixtureRequest) -> None:
    """With ASSAY_TEST_STORAGE=s3 (tests/settings.py), each test stores into a bucket of its own on the test
    process's S3 server, so "nothing was stored" means nothing in this test; the processes it starts are told the
    same bucket (STORAGE_URL in their environment). Without the variable, nothing changes."""
    if getattr(configured_settings, "TEST_STORAGE", "local") != "s3":
        return
    endpoint = os.environ["ASSAY_TEST_S3_ENDPOINT"]
    name = f"assay-{uuid.uuid4().hex[:16]}"
    boto3.client(
        "s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY
    ).create_bucket(Bucket=name)
    url = f"s3://{name}/media?endpoint={endpoint}&region={REGION}&addressing=path"
    cache = request.getfixturevalue("tmp_path") / "storage-cache"
    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setenv("STORAGE_URL", url)
    monkeypatch.setenv("STORAGE_CACHE_DIR", str(cache))
    settings = request.getfixturevalue("settings")
    settings.STORAGE_URL = url
    settings.STORAGE_CACHE_DIR = cache
    spool_bytes = settings.STORAGES["default"]["OPTIONS"]["max_memory_size"]
    storage = storage_config.s3_storage(url, access_key=ACCESS_KEY, secret_key=SECRET_KEY, spool_bytes=spool_bytes)
    settings.STORAGES = {**settings.STORAGES, "default": storage}
