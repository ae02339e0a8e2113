"""Settings for the test suite: the real settings with DEBUG on and a cheap password hasher."""

import os
import tempfile

os.environ.setdefault("DEBUG", "1")
# Each test process gets its own key directory, so tests never touch (or create) a developer's key.
os.environ.setdefault("TRAIL_KEY_DIR", tempfile.mkdtemp(prefix="assay-test-keys-"))
# Jobs queued by tests (and the workers the background tests start) use a folder of this test process's own.
os.environ.setdefault("JOBS_QUEUE_DIR", tempfile.mkdtemp(prefix="assay-test-queue-"))

from governance.settings import *  # noqa: F403

# Hashing passwords slowly is the point in production and pure cost in tests.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests make hundreds of requests a minute from one address; throttling has its own tests.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {"anon": "100000/minute", "user": "100000/minute", "gate": "100000/minute"},
}
AXES_ENABLED = True
# Jobs run in the process that queues them, as it commits: tests stay fast and deterministic. The background tests
# (tests/jobs) start real workers with JOBS_IN_PROCESS=0 and switch the test process to queueing.
CELERY_TASK_ALWAYS_EAGER = os.environ.get("JOBS_IN_PROCESS", "1") == "1"

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file of this test process's own, so concurrent test runs (and xdist workers) never share a database.
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(tempfile.mkdtemp(prefix="assay-test-db-"), "test.sqlite3")}  # noqa: F405
# The registry's lifecycle tests deploy without audits; tests of the audit engine's deployment gate turn it on
# with override_settings (production's default requires them: see governance/settings.py).
AUDIT_REQUIRED_POLICIES = {}
