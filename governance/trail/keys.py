"""The checkpoint signing key: loaded from configuration, published, rotated.

Production sets ``TRAIL_SIGNING_KEY`` or ``TRAIL_SIGNING_KEY_FILE`` to a PEM Ed25519 private key (create one
with ``manage.py trail_keygen``). In development a key is generated once under ``var/keys/``. Every public key
that ever signed stays in the ``SigningKey`` table and at ``/.well-known/assay-keys``, so checkpoints signed
before a rotation keep verifying; the rotation itself is a trail event.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from governance.trail import events
from governance.trail.log import Actor, record_event
from governance.trail.models import SigningKey
from governance.trail.note import ed25519_key_id, verifier_key_text

GENERATED_KEY_FILE = "trail-ed25519.pem"


@dataclass(frozen=True)
class LoadedKey:
    """The private signing key with its public identity."""

    name: str
    private_key: Ed25519PrivateKey
    public_bytes: bytes
    key_id: bytes

    @property
    def verifier_key(self) -> str:
        return verifier_key_text(self.name, self.public_bytes)


def generate_private_key_pem() -> bytes:
    """A new Ed25519 private key as unencrypted PKCS#8 PEM."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _parse_pem(pem: bytes, source: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{source} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured(f"{source} holds a {type(key).__name__}; checkpoints need an Ed25519 key.")
    return key


def _development_key() -> bytes:
    path = Path(settings.TRAIL_KEY_DIR) / GENERATED_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write a private temporary file, then hard-link it into place: the link either creates the key whole
        # or fails because another process got there first, so nobody ever reads a half-written key.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".trail-key-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(generate_private_key_pem())
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    return path.read_bytes()


def load_signing_key() -> LoadedKey:
    """The configured signing key (or the development key under ``TRAIL_KEY_DIR``)."""
    if settings.TRAIL_SIGNING_KEY:
        private_key = _parse_pem(settings.TRAIL_SIGNING_KEY.encode(), "TRAIL_SIGNING_KEY")
    else:
        private_key = _parse_pem(_development_key(), str(Path(settings.TRAIL_KEY_DIR) / GENERATED_KEY_FILE))
    public_bytes = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    name = settings.TRAIL_SIGNING_KEY_NAME
    return LoadedKey(
        name=name, private_key=private_key, public_bytes=public_bytes, key_id=ed25519_key_id(name, public_bytes)
    )


def ensure_key_registered(key: LoadedKey) -> SigningKey:
    """The table row for ``key``, adding it (and a ``trail.key_added`` event) the first time it is used.

    Must run inside the checkpoint's transaction, after the trail lock is taken.
    """
    key_id = key.key_id.hex()
    row = SigningKey.objects.filter(key_id=key_id).first()
    if row is not None:
        return row
    previous = SigningKey.objects.order_by("-added_at").first()
    row = SigningKey.objects.create(
        name=key.name,
        key_id=key_id,
        public_key=key.public_bytes,
        verifier_key=key.verifier_key,
        added_at=timezone.now(),
    )
    record_event(
        events.TRAIL_KEY_ADDED,
        actor=Actor.system(),
        object_type="trail.signingkey",
        object_id=key_id,
        payload={
            "key_name": key.name,
            "key_id": key_id,
            "verifier_key": key.verifier_key,
            "previous_key_id": previous.key_id if previous else None,
        },
    )
    return row


def published_verifier_keys() -> list[str]:
    """Every verifier key that ever signed a checkpoint, oldest first."""
    return list(SigningKey.objects.order_by("added_at").values_list("verifier_key", flat=True))
