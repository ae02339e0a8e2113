"""What the default storage holds, read through Django's storage API, so a test's assertions hold on local files
and on an S3 bucket alike (ASSAY_TEST_STORAGE=s3, tests/settings.py)."""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from governance.storage import open_stream


def stored_names(folder: str = "") -> list[str]:
    """Every stored file's name under ``folder`` (all of them by default), recursively, sorted."""
    try:
        folders, files = default_storage.listdir(folder)
    except FileNotFoundError:  # local storage before anything was stored: no MEDIA_ROOT yet
        return []
    prefix = f"{folder.rstrip('/')}/" if folder else ""
    names = [prefix + name for name in files]
    for sub in folders:
        names.extend(stored_names(prefix + sub))
    return sorted(names)


def read_stored(name: str) -> bytes:
    """The bytes of the stored file ``name``."""
    with open_stream(name) as handle:
        return handle.read()


def replace_stored(name: str, data: bytes) -> None:
    """Put ``data`` in the store under ``name`` in place of what was there: a file altered behind Assay's back."""
    default_storage.delete(name)
    assert default_storage.save(name, ContentFile(data)) == name
