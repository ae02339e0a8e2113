"""Each day's partition of a source is taken at most once per version (the database refuses a second batch), and
a batch source remembers the first day it was configured with, so a PUT that changes nothing keeps its place.

Batches taken before this migration are recorded as taken (the first batch of a day, if a day was taken twice),
so a later change of the configuration cannot take their days again."""

import hashlib

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def _source_key(uri: str, column: str) -> str:
    # As audits.monitoring.actions.sources.source_key computes it (copied: a migration does not import app code).
    return hashlib.sha256(f"{uri}\n{column}".encode()).hexdigest()


def record_taken_partitions(apps, schema_editor):
    MonitoringBatch = apps.get_model("registry", "MonitoringBatch")
    TakenPartition = apps.get_model("audits", "TakenPartition")
    seen = set()
    batches = MonitoringBatch.objects.filter(data__format="source").select_related("data").order_by("version", "number")
    for batch in batches.iterator():
        partition = (batch.data.source_evidence or {}).get("partition") or {}
        try:
            uri, column, day = partition["of"], partition["column"], partition["value"]
        except (KeyError, TypeError):
            continue
        key = (batch.version_id, _source_key(uri, column), day)
        if key in seen:
            continue
        seen.add(key)
        TakenPartition.objects.create(
            version_id=batch.version_id,
            source_key=key[1],
            uri=uri,
            partition_column=column,
            day=day,
            batch=batch,
            taken_at=batch.received_at,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("audits", "0005_batch_source"),
        ("governance", "0011_datasetversion_source"),  # the backfill reads a dataset version's source_evidence
        ("registry", "0009_signer_names_its_method"),
    ]

    operations = [
        migrations.AddField(
            model_name="batchsource",
            name="start",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name="TakenPartition",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("source_key", models.CharField(max_length=64)),
                ("uri", models.CharField(max_length=2000)),
                ("partition_column", models.CharField(max_length=63)),
                ("day", models.DateField()),
                ("taken_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "batch",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="taken_partition",
                        to="registry.monitoringbatch",
                    ),
                ),
                (
                    "version",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="registry.modelversion"
                    ),
                ),
            ],
            options={
                "ordering": ["version", "day"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("version", "source_key", "day"), name="partition_taken_once_per_version"
                    )
                ],
            },
        ),
        migrations.RunPython(record_taken_partitions, migrations.RunPython.noop),
    ]
