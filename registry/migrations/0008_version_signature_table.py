"""A version's verified model signature moves from two ModelVersion columns (0007) to a table of its own.

Migration 0006 re-classifies stored models with the current ModelVersion model; a column added to ModelVersion after
it would be read before it exists on a database upgraded from 0005 in one step. A signature kept in its own table
leaves ModelVersion as 0006 knows it. Signatures recorded under 0007 are copied over first.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def copy_signatures(apps, schema_editor):
    version_model = apps.get_model("registry", "ModelVersion")
    record_model = apps.get_model("registry", "VersionSignature")
    for version in version_model.objects.exclude(signed_by="").order_by("pk"):
        signature = version.signature
        record_model.objects.create(
            version=version,
            signer=version.signed_by,
            **{key: signature.get(key, "") for key in ("method", "digest_algorithm", "digest", "signature_sha256")},
            file=signature.get("file", ""),
        )


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0007_version_signature"),
    ]

    operations = [
        migrations.CreateModel(
            name="VersionSignature",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("method", models.CharField(max_length=16)),
                ("signer", models.CharField(db_index=True, max_length=300)),
                ("digest_algorithm", models.CharField(max_length=16)),
                ("digest", models.CharField(max_length=128)),
                ("signature_sha256", models.CharField(max_length=64)),
                ("file", models.CharField(max_length=300)),
                ("verified_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "version",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="signature_record",
                        to="registry.modelversion",
                    ),
                ),
            ],
        ),
        migrations.RunPython(copy_signatures, migrations.RunPython.noop),
        migrations.RemoveField(model_name="modelversion", name="signature"),
        migrations.RemoveField(model_name="modelversion", name="signed_by"),
    ]
