"""PAdES signatures on reports (pyHanko), with the service's report-signing certificate.

The certificate and key come from ``REPORT_SIGNING_CERT_FILE`` and ``REPORT_SIGNING_KEY_FILE`` (PEM) when they are
set. Otherwise a self-signed ECDSA P-256 certificate is created with ``cryptography`` on first use and kept under
``REPORT_KEY_DIR`` (default ``TRAIL_KEY_DIR``), key and certificate in one file, so they can never get out of step.
Creation is race-safe: the file is written privately and hard-linked into place, so two processes that both find it
missing end up with the one certificate that won the link.

Validation (``validate_pdf``) runs offline: the trust root is our own certificate (or one given), nothing is fetched,
and revocation is not checked (a self-signed certificate has no revocation service).

pyHanko and asn1crypto are imported inside the functions: they cost time at import. cryptography is imported at the
top: the trail loads it at start-up anyway.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from django.conf import settings

T = TypeVar("T")

GENERATED_FILE = "report-signing.pem"  # private key (PKCS#8) then certificate, PEM
SIGNATURE_FIELD = "AssayReportSignature"


class SigningError(Exception):
    """The signing certificate or key cannot be loaded, or a document cannot be signed."""


@dataclass(frozen=True)
class SigningIdentity:
    """The key and certificate reports are signed with."""

    key_pem: bytes
    cert_pem: bytes
    key_password: bytes | None
    source: str  # where it came from: a configured file, or the generated one

    @property
    def cert_der(self) -> bytes:
        return x509.load_pem_x509_certificate(self.cert_pem).public_bytes(Encoding.DER)

    @property
    def cert_sha256(self) -> str:
        return hashlib.sha256(self.cert_der).hexdigest()


@dataclass(frozen=True)
class SignedPdf:
    """A signed document and what its trail event records."""

    pdf: bytes
    sha256: str
    signer_certificate_sha256: str
    signing_time: dt.datetime


@dataclass(frozen=True)
class ValidationResult:
    """The outcome of an offline validation: ``valid`` only when the signature is intact, cryptographically valid,
    chains to the trusted certificate and covers the whole file."""

    valid: bool
    intact: bool
    trusted: bool
    covers_whole_file: bool
    signer_certificate_sha256: str | None
    signing_time: dt.datetime | None
    message: str


def _key_dir() -> Path:
    return Path(settings.REPORT_KEY_DIR or settings.TRAIL_KEY_DIR)


def generate_identity_pem(*, common_name: str, days: int = 3650) -> bytes:
    """A new ECDSA P-256 private key and a self-signed certificate for it (digital signature and non-repudiation
    key usage), as one PEM text: the key, then the certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Assay"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem + certificate.public_bytes(serialization.Encoding.PEM)


def _generated_identity_file() -> Path:
    """The generated key-and-certificate file, created by the first caller that needs it (race-safe)."""
    path = _key_dir() / GENERATED_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written privately, then hard-linked into place: the link creates the file whole or fails because another
        # process got there first; either way everyone reads the same complete file.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".report-signing-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(generate_identity_pem(common_name=settings.REPORT_SIGNER_NAME))
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    return path


def _split_pem(text: bytes) -> tuple[bytes, bytes]:
    """(private key PEM, certificate PEM) from one PEM text holding both."""
    key_start = text.find(b"-----BEGIN PRIVATE KEY-----")
    cert_start = text.find(b"-----BEGIN CERTIFICATE-----")
    if key_start < 0 or cert_start < 0:
        raise SigningError("the generated report-signing file must hold a private key and a certificate")
    return text[key_start:cert_start], text[cert_start:]


def load_identity() -> SigningIdentity:
    """The configured key and certificate, or the generated ones (created on first use)."""
    if settings.REPORT_SIGNING_KEY_FILE:
        try:
            key_pem = Path(settings.REPORT_SIGNING_KEY_FILE).read_bytes()
            cert_pem = Path(settings.REPORT_SIGNING_CERT_FILE).read_bytes()
        except OSError as exc:
            raise SigningError(f"the report-signing key or certificate cannot be read: {exc}") from None
        password = settings.REPORT_SIGNING_KEY_PASSWORD.encode() if settings.REPORT_SIGNING_KEY_PASSWORD else None
        identity = SigningIdentity(key_pem, cert_pem, password, source=settings.REPORT_SIGNING_CERT_FILE)
    else:
        path = _generated_identity_file()
        key_pem, cert_pem = _split_pem(path.read_bytes())
        identity = SigningIdentity(key_pem, cert_pem, None, source=str(path))
    _check_pair(identity)
    return identity


def _check_pair(identity: SigningIdentity) -> None:
    """Refuse a key that does not belong to the certificate, before anything is signed with it."""
    _checked_pair(identity.key_pem, identity.cert_pem, identity.key_password, identity.source)


@lru_cache(maxsize=8)
def _checked_pair(key_pem: bytes, cert_pem: bytes, password: bytes | None, source: str) -> None:
    try:
        key = serialization.load_pem_private_key(key_pem, password=password)
        cert = x509.load_pem_x509_certificate(cert_pem)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"{source}: the report-signing key or certificate is not valid PEM: {exc}") from None
    public = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*public) != cert.public_key().public_bytes(*public):
        raise SigningError(f"{source}: the report-signing key does not belong to the certificate")


def signing_certificate_pem() -> bytes:
    """The certificate reports are signed with (PEM): what a reader trusts to validate them offline."""
    return load_identity().cert_pem


def signing_certificate_sha256() -> str:
    """SHA-256 of the signing certificate's DER bytes (what the trail records)."""
    return load_identity().cert_sha256


def _signer(identity: SigningIdentity) -> Any:
    from asn1crypto import keys, pem
    from asn1crypto import x509 as asn1_x509  # not cryptography's x509 (the top of this module)
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    private = serialization.load_pem_private_key(identity.key_pem, password=identity.key_password)
    key_der = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _, _, cert_der = pem.unarmor(identity.cert_pem)
    certificate = asn1_x509.Certificate.load(cert_der)
    return signers.SimpleSigner(
        signing_cert=certificate,
        signing_key=keys.PrivateKeyInfo.load(key_der),
        cert_registry=SimpleCertificateStore.from_certs([certificate]),
    )


def _without_running_loop(call: Callable[[], T]) -> T:
    """``call()`` here, or in a short-lived thread when this thread already runs an asyncio event loop.

    pyHanko's synchronous signing and validation call ``asyncio.run``, which refuses to start inside a running loop
    (an async view, or a test process where Playwright's sync API is alive): the work is the same either way.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return call()
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def sign_pdf(pdf: bytes, *, reason: str, location: str = "", identity: SigningIdentity | None = None) -> SignedPdf:
    """``pdf`` with a PAdES baseline (B-B) signature over the whole document, SHA-256."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    identity = identity or load_identity()
    signing_time = dt.datetime.now(dt.UTC).replace(microsecond=0)
    metadata = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location or None,
    )
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        pdf_signer = signers.PdfSigner(metadata, signer=_signer(identity))
        output = _without_running_loop(lambda: pdf_signer.sign_pdf(writer, in_place=False, output=io.BytesIO()))
    except Exception as exc:  # pyHanko raises many types; the caller needs one
        raise SigningError(f"the report could not be signed: {exc}") from exc
    signed = output.getvalue()
    return SignedPdf(
        pdf=signed,
        sha256=hashlib.sha256(signed).hexdigest(),
        signer_certificate_sha256=identity.cert_sha256,
        signing_time=signing_time,
    )


def validate_pdf(pdf: bytes, *, trusted_cert_pem: bytes | None = None) -> ValidationResult:
    """Validate the report's signature offline with pyHanko: trust root ``trusted_cert_pem`` (default: our signing
    certificate), no fetching of anything, no revocation check. Never raises for a bad document: a PDF that cannot
    even be parsed is simply not valid, and the message says why."""
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    cert_pem = trusted_cert_pem or signing_certificate_pem()
    _, _, der = pem.unarmor(cert_pem)
    root = asn1_x509.Certificate.load(der)
    context = ValidationContext(trust_roots=[root], allow_fetching=False, revocation_mode="soft-fail")

    def refused(message: str) -> ValidationResult:
        return ValidationResult(False, False, False, False, None, None, message)

    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
        if len(signatures) != 1:
            return refused(f"expected one signature, found {len(signatures)}")
        status = _without_running_loop(lambda: validate_pdf_signature(signatures[0], context))
    except SignatureValidationError as exc:
        return refused(f"the signature does not validate: {exc}")
    except Exception as exc:  # a damaged file fails to parse in many ways
        return refused(f"the document cannot be read as a signed PDF: {type(exc).__name__}: {exc}")
    signer = status.signing_cert
    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    valid = bool(status.bottom_line and status.intact and status.valid and status.trusted and whole)
    if valid:
        message = "the signature is intact, valid, trusted and covers the whole file"
    else:
        problems = [
            name
            for name, ok in (
                ("not intact (the signed bytes changed)", status.intact),
                ("not cryptographically valid", status.valid),
                ("not trusted (another signer)", status.trusted),
                ("does not cover the whole file", whole),
            )
            if not ok
        ]
        message = "the signature is " + "; ".join(problems or ["refused by pyHanko"])
    return ValidationResult(
        valid=valid,
        intact=bool(status.intact),
        trusted=bool(status.trusted),
        covers_whole_file=whole,
        signer_certificate_sha256=hashlib.sha256(signer.dump()).hexdigest() if signer is not None else None,
        signing_time=status.signer_reported_dt,
        message=message,
    )
