"""Where uploaded and generated files live: ``STORAGE_URL`` read into Django's ``STORAGES["default"]``.

Unset, files stay under ``MEDIA_ROOT`` (Django's ``FileSystemStorage``), as on a single machine. Set to an
S3-protocol bucket (AWS S3, MinIO, Ceph RGW, Google Cloud Storage's S3 endpoint), every node reads and writes the
same objects through django-storages, so no node keeps a file another node needs:

    STORAGE_URL=s3://assay-media/prod?endpoint=https://minio.internal:9000&region=eu-west-1&addressing=path

Credentials never sit in the URL (it is printed in logs and process listings): boto3 reads ``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY`` (or ``*_FILE`` paths to them, or the machine's instance role) from the environment.

Settings are read before Django is set up, so this module imports nothing of Django but its exception.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.core.exceptions import ImproperlyConfigured

S3_BACKEND = "storages.backends.s3.S3Storage"
_QUERY_KEYS = {"endpoint", "region", "addressing", "expiry"}
_PART_BYTES = 8 * 1024 * 1024  # boto3's default part size: 10,000 parts make 78 GiB, the largest object we could send


def s3_storage(
    url: str, *, access_key: str = "", secret_key: str = "", spool_bytes: int, transfer_threads: int = 2
) -> dict[str, Any]:
    """The ``STORAGES["default"]`` entry for ``url`` (``s3://bucket[/prefix][?endpoint=&region=&addressing=]``).

    Names are content-addressed (``governance.storage.store_by_hash``), so an existing object is overwritten only by
    the same bytes: ``file_overwrite`` keeps the name as given instead of inventing a new one. A read through
    ``open()`` spools to ``FILE_UPLOAD_TEMP_DIR`` past ``spool_bytes`` (django-storages keeps the whole object in memory
    otherwise); large reads use ``governance.storage.open_stream``, which never buffers the whole object. An upload
    reads its 8 MiB parts into memory (django-storages' wrapper cannot seek), ``transfer_threads`` sent at once and as
    many waiting: benchmarks/bench_storage_memory.py measured the peak added by one upload at +87 MiB with boto3's
    default of 10 threads, +65 MiB with 4 and +51 MiB with 2 (a 1 GiB file as a 64 MiB one), so the default is 2.
    """
    parts = urlsplit(url)
    if parts.scheme != "s3":
        raise ImproperlyConfigured(f"STORAGE_URL={url!r}: only s3:// URLs are understood (S3-protocol storage).")
    if parts.username or parts.password:
        raise ImproperlyConfigured(
            "STORAGE_URL must not hold credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or their "
            "*_FILE variants) in the environment instead."
        )
    bucket = parts.hostname or ""
    if not bucket:
        raise ImproperlyConfigured(f"STORAGE_URL={url!r} names no bucket: use s3://bucket[/prefix].")
    query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = sorted(set(query) - _QUERY_KEYS)
    if unknown:
        raise ImproperlyConfigured(
            f"STORAGE_URL: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(_QUERY_KEYS))}."
        )
    addressing = query.get("addressing", "")
    if addressing not in ("", "path", "virtual"):
        raise ImproperlyConfigured(f"STORAGE_URL: addressing={addressing!r} is not 'path' or 'virtual'.")
    try:
        expiry = int(query.get("expiry") or 300)
    except ValueError:
        raise ImproperlyConfigured(f"STORAGE_URL: expiry={query['expiry']!r} is not a number of seconds.") from None
    if bool(access_key) != bool(secret_key):
        raise ImproperlyConfigured("Set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither.")
    options: dict[str, Any] = {
        "bucket_name": bucket,
        "location": parts.path.strip("/"),
        "endpoint_url": query.get("endpoint") or None,
        "region_name": query.get("region") or None,
        "addressing_style": addressing or None,
        "signature_version": "s3v4",
        "file_overwrite": True,
        "default_acl": None,  # the bucket's own policy; objects are never made public
        "querystring_auth": True,
        "querystring_expire": expiry,  # a pre-signed URL, where one is handed out, is short-lived
        "max_memory_size": spool_bytes,
    }
    from boto3.s3.transfer import TransferConfig  # noqa: PLC0415 - only with STORAGE_URL: a single machine never loads boto3

    # django-storages hands boto3 a wrapper it cannot seek, so parts are read into memory: at most this many at once.
    transfer = TransferConfig(
        multipart_threshold=_PART_BYTES, multipart_chunksize=_PART_BYTES, max_concurrency=transfer_threads
    )
    transfer.max_in_memory_upload_chunks = transfer_threads  # s3transfer's setting; boto3's constructor omits it
    options["transfer_config"] = transfer
    if access_key:
        options["access_key"] = access_key
        options["secret_key"] = secret_key
    return {"BACKEND": S3_BACKEND, "OPTIONS": options}
