"""Issue 27: every model's risk is re-classified under the EU AI Act as written (registry.risk).

The first questionnaire let "a human reviews each decision" lower an Annex III system to "limited"; the Act's
Art. 6(3) derogation needs one of its conditions (a)-(d), no significant risk of harm and a documented assessment,
none of which those answers hold. So such models become high risk. Each model's answers are re-read by the action
``do_reclassify_stored_risk``, which stores the rationale, the provisions cited and the Act's text version, appends
the trail event, and opens a finding on each version not retired or rejected wherever the tier changes, for an
officer to confirm (or to correct the answers with the current questionnaire).

The action uses the current models (the trail and findings need them). It runs only when there are models to
re-classify, so a fresh database never reaches it; a database migrated past later changes of these tables in one
step should run this migration's step on its own first (``migrate registry 0006``).
"""

from django.db import migrations, models

REASON = (
    "Re-classified under Regulation (EU) 2024/1689 as written (issue 27): the Art. 6(3) derogation needs one of "
    "conditions (a)-(d), no significant risk of harm and a documented assessment; Art. 6(1) and Art. 50 are asked."
)


def reclassify(apps, schema_editor):
    historical = apps.get_model("registry", "RegisteredModel")
    pks = list(historical.objects.order_by("pk").values_list("pk", flat=True))
    if not pks:
        return
    from governance.trail.log import Actor  # current code: the action appends the trail event
    from registry.actions import do_reclassify_stored_risk
    from registry.models import RegisteredModel

    for model in RegisteredModel.objects.filter(pk__in=pks).order_by("pk"):
        do_reclassify_stored_risk(model=model, actor=Actor.system(), reason=REASON)


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0005_monitoring"),
        ("governance", "0008_export_progress_heartbeat"),
    ]

    operations = [
        migrations.AddField(
            model_name="registeredmodel",
            name="risk_basis",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(reclassify, migrations.RunPython.noop),
    ]
