"""OpenSSF model signatures (the ``model-signing`` package) verified offline against the trust roots an operator
configured, before a signed artifact is registered.

Trust roots live in one folder (``MODEL_SIGNING_TRUST_DIR``):

    keys/<name>.pem         an elliptic-curve public key (P-256, P-384 or P-521); its signer is ``key:<name>``
    certificates/*.pem      CA certificates (roots, intermediates) a signing certificate must chain up to; its
                            signer is ``cert:<kind>:<value>``, the signing certificate's e-mail, URI or DNS name
                            (kind ``email``, ``uri``, ``dns``), else its common name (``cn``)

A signer always names its method: a key's file name and a certificate's identity are chosen by different people (the
operator names key files; any CA in ``certificates/`` names its subjects), so a certificate whose common name is
"release" must never pass for the key ``keys/release.pem``.

Supported: signatures made with ``model_signing``'s key signer and its certificate signer, over one file (the
artifact). Not supported: Sigstore keyless bundles (a Fulcio certificate and a Rekor transparency-log entry). The
package can verify them against a private trust configuration, but Assay wires no Sigstore trust root yet, so they
are refused as such; nothing here reaches the network.

Framework-free: plain paths in, a plain record or a ``SignatureError`` (with a code and words) out.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

MAX_SIGNATURE_BYTES = 1024 * 1024  # a bundle is a few kilobytes; a certificate chain a few more
_BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle"
KEY, CERTIFICATE = "key", "certificate"
# How a signer is written (recorded on a version, and required by MODEL_SIGNING_REQUIRED_SIGNERS): its method first.
KEY_PREFIX, CERTIFICATE_PREFIX = "key:", "cert:"
CERTIFICATE_KINDS = ("email", "uri", "dns", "cn")  # the identity a certificate signer is named by, in that order
_SAN_KINDS = (("email", x509.RFC822Name), ("uri", x509.UniformResourceIdentifier), ("dns", x509.DNSName))


class SignatureError(Exception):
    """A signature refused, with a machine code and the reason in words."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class VerifiedSignature:
    """What a verified signature establishes: who signed (under which method) and the digest they signed."""

    method: str
    signer: str
    digest_algorithm: str
    digest: str
    signature_sha256: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def verify_model_signature(artifact: Path, signature: Path, *, trust_dir: Path | None) -> VerifiedSignature:
    """Verify ``signature`` (a model-signing Sigstore bundle) over the single file ``artifact`` against the trust
    roots in ``trust_dir`` (None: no signer is trusted); the signer and the signed digest, or ``SignatureError``
    saying why not."""
    raw = _read(signature)
    bundle = _bundle(raw)
    material = bundle.get("verificationMaterial") or {}
    if "publicKey" in material:
        signer = _verify_with_key(artifact, signature, bundle=material["publicKey"], trust_dir=trust_dir)
        method = KEY
    elif "x509CertificateChain" in material:
        signer = _verify_with_certificates(artifact, signature, chain=material["x509CertificateChain"], trust=trust_dir)
        method = CERTIFICATE
    elif "certificate" in material:
        raise SignatureError(
            "This is a Sigstore keyless signature (a Fulcio certificate with a transparency-log entry); this server "
            "verifies key and certificate signatures only (docs/supply-chain.md).",
            code="unsupported_signature",
        )
    else:
        raise SignatureError("The signature names no verification material (key or certificate).", code="bad_signature")
    algorithm, digest = _signed_digest(bundle)
    return VerifiedSignature(
        method=method,
        signer=signer,
        digest_algorithm=algorithm,
        digest=digest,
        signature_sha256=hashlib.sha256(raw).hexdigest(),
    )


def _read(signature: Path) -> bytes:
    if signature.stat().st_size > MAX_SIGNATURE_BYTES:
        raise SignatureError(
            f"The signature file is larger than {MAX_SIGNATURE_BYTES} bytes: not a model signature.",
            code="bad_signature",
        )
    return signature.read_bytes()


def _bundle(raw: bytes) -> dict[str, Any]:
    try:
        bundle = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise SignatureError(
            "The signature is not JSON (a model-signing Sigstore bundle).", code="bad_signature"
        ) from None
    if not isinstance(bundle, dict) or not str(bundle.get("mediaType", "")).startswith(_BUNDLE_MEDIA_TYPE):
        raise SignatureError(
            f"The signature is not a Sigstore bundle (mediaType {_BUNDLE_MEDIA_TYPE}...).", code="bad_signature"
        )
    return bundle


def _verify_with_key(artifact: Path, signature: Path, *, bundle: dict[str, Any], trust_dir: Path | None) -> str:
    """The trusted key the bundle names (by its hint: the sha256 of its PEM), which must verify it."""
    from model_signing import verifying

    keys = _trusted(trust_dir, "keys")
    hint = str(bundle.get("hint", ""))
    named = [key for key in keys if hashlib.sha256(_public_pem(key)).hexdigest() == hint]
    if not named:
        raise SignatureError(
            "The signature was made with a key that is not among the trusted keys "
            f"(key hint {hint[:16] or 'missing'}...; trusted: {', '.join(k.stem for k in keys) or 'none'}).",
            code="untrusted_signer",
        )
    key = named[0]
    _run(lambda: verifying.Config().use_elliptic_key_verifier(public_key=key).verify(artifact, signature))
    return f"{KEY_PREFIX}{key.stem}"


def _trusted(trust_dir: Path | None, kind: str) -> list[Path]:
    """The PEM files of one kind of trust root (none when no folder is configured)."""
    if trust_dir is None or not (trust_dir / kind).is_dir():
        return []
    return sorted((trust_dir / kind).glob("*.pem"))


def _public_pem(path: Path) -> bytes:
    """The key as model-signing hashes it for its hint (SubjectPublicKeyInfo PEM), however the file spells it."""
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except ValueError:
        return b""  # not a public key: it names nobody
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _verify_with_certificates(artifact: Path, signature: Path, *, chain: dict[str, Any], trust: Path | None) -> str:
    from model_signing import verifying

    roots = _trusted(trust, "certificates")
    if not roots:
        # model-signing would fall back to the operating system's web CAs: never a trust root for model signers.
        raise SignatureError("No certificate trust roots are configured for model signatures.", code="untrusted_signer")
    _run(lambda: verifying.Config().use_certificate_verifier(certificate_chain=roots).verify(artifact, signature))
    return _certificate_identity(chain)


def _certificate_identity(chain: dict[str, Any]) -> str:
    """The signing certificate's signer: ``cert:email:``, ``cert:uri:`` or ``cert:dns:`` and its first such subject
    alternative name, else ``cert:cn:`` and its common name (``cert:subject:`` and the whole subject without one)."""
    certificate = x509.load_der_x509_certificate(base64.b64decode(chain["certificates"][0]["rawBytes"]))
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        for kind, general_name in _SAN_KINDS:
            found = names.get_values_for_type(general_name)
            if found:
                return f"{CERTIFICATE_PREFIX}{kind}:{found[0]}"
    except x509.ExtensionNotFound:
        pass
    common = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if common:
        return f"{CERTIFICATE_PREFIX}cn:{common[0].value!s}"
    return f"{CERTIFICATE_PREFIX}subject:{certificate.subject.rfc4514_string()}"


def _run(verify: Any) -> None:
    """Run model-signing's verification; its refusals become SignatureErrors naming the reason."""
    try:
        verify()
    except InvalidSignature:
        raise SignatureError(
            "The signature does not verify: it was not made by the trusted key.", code="bad_signature"
        ) from None
    except ValueError as exc:
        text = str(exc)
        if text.startswith("Signature mismatch"):
            raise SignatureError(
                f"The artifact is not the one that was signed ({text}).", code="artifact_mismatch"
            ) from None
        raise SignatureError(f"The signature is refused: {text}", code="bad_signature") from None
    except Exception as exc:  # hostile bundles reach protobuf, OpenSSL and base64 parsers
        if type(exc).__name__ == "X509StoreContextError":  # OpenSSL: the chain does not lead to a trusted root
            raise SignatureError(
                f"The signing certificate does not chain to a trusted root: {exc}", code="untrusted_signer"
            ) from None
        reason = f"{type(exc).__name__}: {exc}"[:300]
        raise SignatureError(f"The signature could not be verified: {reason}", code="bad_signature") from None


def _signed_digest(bundle: dict[str, Any]) -> tuple[str, str]:
    """The artifact's digest as signed (read once the signature verified): model-signing's one resource "."."""
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    resources = statement.get("predicate", {}).get("resources", [])
    if len(resources) != 1:
        raise SignatureError(
            f"The signature covers {len(resources)} files; a version's artifact is one file.", code="bad_signature"
        )
    return str(resources[0]["algorithm"]), str(resources[0]["digest"])
