"""A recorded signer names its method: ``key:<name>`` for a trusted key, ``cert:<kind>:<identity>`` for a signing
certificate (registry.signing). Signatures recorded before carried the bare name, which a certificate's common name
or DNS name could equal, so a certificate could pass for a trusted key.

A key signer gains ``key:``. A certificate signer's kind (e-mail, URI, DNS name, else common name) is read again from
the signing certificate in its stored signature bundle, as registry.signing reads it on upload (copied here, so this
migration keeps doing what it does when that code changes). When the store no longer holds the bundle, or it cannot
be read, the signer becomes ``cert:unknown:<name>``: no MODEL_SIGNING_REQUIRED_SIGNERS entry can name that kind, so
such a version meets no requirement (it fails closed) and its page still shows who signed it.
"""

import base64
import json

from cryptography import x509
from django.db import migrations

from governance.storage import open_stream

_SAN_KINDS = (("email", x509.RFC822Name), ("uri", x509.UniformResourceIdentifier), ("dns", x509.DNSName))


def _certificate_signer(bundle: bytes) -> str:
    chain = json.loads(bundle)["verificationMaterial"]["x509CertificateChain"]
    certificate = x509.load_der_x509_certificate(base64.b64decode(chain["certificates"][0]["rawBytes"]))
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        for kind, general_name in _SAN_KINDS:
            found = names.get_values_for_type(general_name)
            if found:
                return f"cert:{kind}:{found[0]}"
    except x509.ExtensionNotFound:
        pass
    common = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if common:
        return f"cert:cn:{common[0].value!s}"
    return f"cert:subject:{certificate.subject.rfc4514_string()}"


def _stored_certificate_signer(record) -> str:
    try:
        with open_stream(record.file) as stream:
            return _certificate_signer(stream.read())
    except (OSError, ValueError, KeyError, IndexError, TypeError):  # missing, or not the bundle it was
        return f"cert:unknown:{record.signer}"


def name_the_method(apps, schema_editor):
    for record in apps.get_model("registry", "VersionSignature").objects.order_by("pk"):
        if record.method == "key":
            record.signer = f"key:{record.signer}"
        else:
            record.signer = _stored_certificate_signer(record)
        record.save(update_fields=["signer"])


def bare_names(apps, schema_editor):
    for record in apps.get_model("registry", "VersionSignature").objects.order_by("pk"):
        method, _, name = record.signer.partition(":")
        if method == "cert":
            name = name.partition(":")[2]
        if method in ("key", "cert"):
            record.signer = name
            record.save(update_fields=["signer"])


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0008_version_signature_table"),
    ]

    operations = [
        migrations.RunPython(name_the_method, bare_names),
    ]
