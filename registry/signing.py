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

    sigstore/trusted_root.json
                            a Sigstore trusted root (Fulcio CAs, Rekor and CT log keys: the public-good instance's
                            or a private deployment's); a keyless signature's signer is
                            ``sigstore:<identity>;issuer=<OIDC issuer>``, both read from its Fulcio certificate

Supported: signatures made with ``model_signing``'s key, certificate and Sigstore signers, over one file (the
artifact). A Sigstore bundle is verified offline against the configured trusted root: the certificate chain to
Fulcio's CA at the time the transparency log recorded, the log entry's signed timestamp and inclusion proof, then the
signature and the artifact's digest. Nothing here reaches the network.

Framework-free: plain paths in, a plain record or a ``SignatureError`` (with a code and words) out.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

MAX_SIGNATURE_BYTES = 1024 * 1024  # a bundle is a few kilobytes; a certificate chain a few more
# The longest signer a version can record (registry.models.VersionSignature.signer's column): a certificate may name
# an identity of any length, and a longer one is refused by name rather than cut or left to the database to refuse.
MAX_SIGNER_LENGTH = 300
_BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle"
KEY, CERTIFICATE, SIGSTORE = "key", "certificate", "sigstore"
# How a signer is written (recorded on a version, and required by MODEL_SIGNING_REQUIRED_SIGNERS): its method first.
KEY_PREFIX, CERTIFICATE_PREFIX, SIGSTORE_PREFIX = "key:", "cert:", "sigstore:"
SIGSTORE_ISSUER = ";issuer="  # between a keyless signer's identity and the OpenID issuer that vouched for it
SIGSTORE_TRUSTED_ROOT = Path("sigstore") / "trusted_root.json"
# Fulcio's certificate extensions naming the OpenID issuer (the current one, then the deprecated one).
_FULCIO_ISSUER_OIDS = (x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8"), x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1"))
# model-signing reads a Sigstore "client trust configuration": a trusted root plus the services to sign with.
# Verification uses only the root, so the services are left empty (nothing to reach).
_VERIFY_ONLY_SIGNING_CONFIG = {
    "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
    "caUrls": [],
    "oidcUrls": [],
    "rekorTlogUrls": [],
    "tsaUrls": [],
    "rekorTlogConfig": {"selector": "ANY"},
    "tsaConfig": {"selector": "ANY"},
}
CERTIFICATE_KINDS = ("email", "uri", "dns", "cn")  # the identity a certificate signer is named by, in that order
_SAN_KINDS = (("email", x509.RFC822Name), ("uri", x509.UniformResourceIdentifier), ("dns", x509.DNSName))


class SignatureError(Exception):
    """A signature refused, with a machine code and the reason in words."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SignedFile:
    """One file a signature covers, as the signed statement names it."""

    name: str
    digest_algorithm: str
    digest: str


@dataclass(frozen=True)
class VerifiedBundle:
    """A signature verified over a file or a folder: who signed (under which method) and every file it covers."""

    method: str
    signer: str
    files: tuple[SignedFile, ...]
    signature_sha256: str


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
    verified = verify_signed_files(artifact, signature, trust_dir=trust_dir)
    if len(verified.files) != 1:
        raise SignatureError(
            f"The signature covers {len(verified.files)} files; a version's artifact is one file.", code="bad_signature"
        )
    (signed,) = verified.files
    return VerifiedSignature(
        method=verified.method,
        signer=verified.signer,
        digest_algorithm=signed.digest_algorithm,
        digest=signed.digest,
        signature_sha256=verified.signature_sha256,
    )


def verify_signed_files(path: Path, signature: Path, *, trust_dir: Path | None) -> VerifiedBundle:
    """Verify ``signature`` over ``path`` (a file, or a folder model-signing hashed file by file) against the trust
    roots in ``trust_dir``; the signer and every file the signed statement covers, or ``SignatureError``."""
    raw = _read(signature)
    bundle = _bundle(raw)
    material = bundle.get("verificationMaterial") or {}
    if "publicKey" in material:
        signer = _verify_with_key(path, signature, bundle=material["publicKey"], trust_dir=trust_dir)
        method = KEY
    elif "x509CertificateChain" in material:
        signer = _verify_with_certificates(path, signature, chain=material["x509CertificateChain"], trust=trust_dir)
        method = CERTIFICATE
    elif "certificate" in material:
        signer = _verify_with_sigstore(path, signature, certificate=material["certificate"], trust_dir=trust_dir)
        method = SIGSTORE
    else:
        raise SignatureError("The signature names no verification material (key or certificate).", code="bad_signature")
    if len(signer) > MAX_SIGNER_LENGTH:
        raise SignatureError(
            f"The signature verified, but its signer's name is {len(signer)} characters long ({signer[:60]}...); "
            f"Assay records signers of at most {MAX_SIGNER_LENGTH} characters.",
            code="bad_signature",
        )
    return VerifiedBundle(
        method=method, signer=signer, files=_signed_files(bundle), signature_sha256=hashlib.sha256(raw).hexdigest()
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


def _verify_with_sigstore(path: Path, signature: Path, *, certificate: dict[str, Any], trust_dir: Path | None) -> str:
    """A keyless signature: its Fulcio certificate names the signer and the OpenID issuer that vouched for them;
    model-signing (through sigstore-python) verifies it offline against the configured trusted root under exactly
    that identity policy, so the recorded signer is the one the certificate, the log and the signature agree on."""
    from model_signing import verifying

    root = trust_dir / SIGSTORE_TRUSTED_ROOT if trust_dir is not None else None
    if root is None or not root.is_file():
        raise SignatureError(
            "This is a Sigstore keyless signature, and no Sigstore trusted root is configured "
            f"(MODEL_SIGNING_TRUST_DIR/{SIGSTORE_TRUSTED_ROOT.as_posix()}, docs/supply-chain.md).",
            code="untrusted_signer",
        )
    identity, issuer = _sigstore_identity(certificate)
    try:
        trusted_root = json.loads(root.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SignatureError(
            f"The configured Sigstore trusted root cannot be read: {exc}", code="untrusted_signer"
        ) from None
    config = {
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": trusted_root,
        "signingConfig": _VERIFY_ONLY_SIGNING_CONFIG,
    }
    with tempfile.TemporaryDirectory(prefix="assay-sigstore-") as folder:
        config_path = Path(folder) / "trust_config.json"
        config_path.write_text(json.dumps(config), encoding="utf-8")
        _run(
            lambda: (
                verifying.Config()
                .use_sigstore_verifier(identity=identity, oidc_issuer=issuer, trust_config=config_path)
                .verify(path, signature)
            )
        )
    return f"{SIGSTORE_PREFIX}{identity}{SIGSTORE_ISSUER}{issuer}"


def _sigstore_identity(certificate: dict[str, Any]) -> tuple[str, str]:
    """The signer's identity (the certificate's e-mail address or URI) and its OpenID issuer (Fulcio's extension)."""
    try:
        parsed = x509.load_der_x509_certificate(base64.b64decode(certificate["rawBytes"]))
        names = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (KeyError, TypeError, ValueError, x509.ExtensionNotFound):
        raise SignatureError(
            "The keyless signature's certificate cannot be read or names no identity.", code="bad_signature"
        ) from None
    identities = names.get_values_for_type(x509.RFC822Name) + names.get_values_for_type(x509.UniformResourceIdentifier)
    issuer = ""
    for oid in _FULCIO_ISSUER_OIDS:
        try:
            value = parsed.extensions.get_extension_for_oid(oid).value
        except x509.ExtensionNotFound:
            continue
        issuer = _issuer_text(oid, value)
        break
    if not identities or not issuer:
        raise SignatureError(
            "The keyless signature's certificate names no signer identity or no OpenID issuer (not a Fulcio "
            "certificate).",
            code="bad_signature",
        )
    return str(identities[0]), issuer


def _issuer_text(oid: x509.ObjectIdentifier, value: Any) -> str:
    """Fulcio's issuer extension as text: DER UTF8String in the current extension, raw bytes in the deprecated one."""
    raw = bytes(getattr(value, "value", b""))
    if oid == _FULCIO_ISSUER_OIDS[0] and len(raw) > 2 and raw[0] == 0x0C:  # UTF8String, short or long length
        length_bytes = raw[1] - 0x80 if raw[1] & 0x80 else 0
        raw = raw[2 + length_bytes :]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return ""


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
        if type(exc).__name__ in ("VerificationError", "CertValidationError"):  # sigstore: chain, log, identity
            raise SignatureError(
                f"The keyless signature does not verify against the trusted Sigstore root: {exc}",
                code="untrusted_signer",
            ) from None
        if type(exc).__name__ == "X509StoreContextError":  # OpenSSL: the chain does not lead to a trusted root
            raise SignatureError(
                f"The signing certificate does not chain to a trusted root: {exc}", code="untrusted_signer"
            ) from None
        reason = f"{type(exc).__name__}: {exc}"[:300]
        raise SignatureError(f"The signature could not be verified: {reason}", code="bad_signature") from None


def _signed_files(bundle: dict[str, Any]) -> tuple[SignedFile, ...]:
    """The files and digests of the signed statement (read once the signature verified): model-signing's resources."""
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    resources = statement.get("predicate", {}).get("resources", [])
    return tuple(
        SignedFile(name=str(item.get("name", "")), digest_algorithm=str(item["algorithm"]), digest=str(item["digest"]))
        for item in resources
    )
