"""A real S3-protocol server for the storage tests: moto's standalone server, in a process of its own on 127.0.0.1.

Why moto is an acceptable stand-in (docs/operations.md, "Several nodes"): it answers the S3 REST protocol over HTTP
as AWS does (signature v4, PutObject, multipart uploads, HeadObject, GetObject, ranged reads, ListObjectsV2,
pre-signed URLs), so boto3 and django-storages run unchanged against it, through a real socket, from several
processes at once. What it does not cover: its bucket lives in memory (a restart loses it), it does not enforce IAM
policies, bucket encryption, object lock or storage classes, and it has no network latency, throttling (503 SlowDown)
or eventual-consistency quirks of a provider. Those stay the operator's to test against the real store.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from governance import storage_config

# The server binds port 0 (the OS chooses a free one) and prints the port it got.
_SERVER = """
import sys, threading
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()  # until the test session closes our stdin (or ends)
server.stop()
"""
ACCESS_KEY = "assay-test-access"  # moto accepts any key pair; real stores would not
SECRET_KEY = "assay-test-secret"
REGION = "us-east-1"


@dataclass
class S3Server:
    """The running server: its endpoint, and a plain boto3 client to look at the bucket behind Assay's back."""

    endpoint: str
    process: subprocess.Popen[str]

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def new_bucket(self) -> str:
        name = f"assay-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name

    def storage_url(self, bucket: str, prefix: str = "media") -> str:
        return f"s3://{bucket}/{prefix}?endpoint={self.endpoint}&region={REGION}&addressing=path"


def start_s3_server() -> S3Server:
    """Start moto's server in a child process; its port is the OS's choice, read from its first line."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.isdigit():
        process.kill()
        pytest.fail(f"moto's S3 server did not start (it printed {line!r})")
    return S3Server(endpoint=f"http://127.0.0.1:{line}", process=process)


def stop_s3_server(server: S3Server) -> None:
    assert server.process.stdin is not None
    server.process.stdin.close()
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = start_s3_server()
    yield server
    stop_s3_server(server)


@dataclass
class Bucket:
    """The bucket a test's default storage writes to, and a way to read and write its objects directly."""

    server: S3Server
    name: str
    prefix: str

    def key(self, storage_name: str) -> str:
        return f"{self.prefix}/{storage_name}"

    def get(self, storage_name: str) -> bytes:
        return bytes(self.server.client().get_object(Bucket=self.name, Key=self.key(storage_name))["Body"].read())

    def put(self, storage_name: str, data: bytes) -> None:
        self.server.client().put_object(Bucket=self.name, Key=self.key(storage_name), Body=data)

    def keys(self) -> list[str]:
        found = self.server.client().list_objects_v2(Bucket=self.name).get("Contents", [])
        return sorted(str(item["Key"]) for item in found)


@pytest.fixture
def bucket(s3_server: S3Server, settings: Any, tmp_path: Path) -> Bucket:
    """This test's default storage is a fresh bucket on the S3 server, configured from a STORAGE_URL as in
    production; MEDIA_ROOT points at a folder that must stay empty."""
    name = s3_server.new_bucket()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": storage_config.s3_storage(
            s3_server.storage_url(name),
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            spool_bytes=1024 * 1024,
        ),
    }
    settings.MEDIA_ROOT = tmp_path / "media-must-stay-empty"
    settings.STORAGE_CACHE_DIR = tmp_path / "storage-cache"
    return Bucket(server=s3_server, name=name, prefix="media")


@pytest.fixture
def media_root(bucket: Bucket, settings: Any) -> Path:
    """Shadows the apps' ``media_root`` fixture: their arrangements store into the bucket here."""
    return Path(settings.MEDIA_ROOT)
