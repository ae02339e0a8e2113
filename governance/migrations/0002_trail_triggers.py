"""Install the append-only triggers on the trail tables (see governance/trail/db.py)."""

from django.db import migrations


def install(apps, schema_editor):
    from governance.trail.db import install_triggers

    install_triggers(schema_editor.connection)


def remove(apps, schema_editor):
    from governance.trail.db import drop_triggers

    drop_triggers(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("governance", "0001_initial")]

    operations = [migrations.RunPython(install, remove)]
