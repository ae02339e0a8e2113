"""Settings for the test suite: the real settings with DEBUG on and a cheap password hasher."""

import os
import tempfile

os.environ.setdefault("DEBUG", "1")
# Each test process gets its own key directory, so tests never touch (or create) a developer's key.
os.environ.setdefault("TRAIL_KEY_DIR", tempfile.mkdtemp(prefix="assay-test-keys-"))
# Jobs queued by tests (and the workers the background tests start) use a folder of this test process's own. An
# xdist worker inherits the controller's environment, so it makes its own (two workers sharing one folder took, or
# cleared, each other's jobs); the processes a test starts inherit its worker's folder and keep it.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if "JOBS_QUEUE_DIR" not in os.environ or os.environ.get("ASSAY_TEST_QUEUE_OF") != _xdist_worker:
    os.environ["JOBS_QUEUE_DIR"] = tempfile.mkdtemp(prefix=f"assay-test-queue-{_xdist_worker or 'main'}-")
    os.environ["ASSAY_TEST_QUEUE_OF"] = _xdist_worker

# ASSAY_TEST_STORAGE=s3: every test stores through the S3 backend, on moto's standalone server started for this test
# process (tests/storage/conftest.py says why it is an acceptable stand-in); each test gets a fresh bucket
# (tests/conftest.py). The processes tests start inherit the variables below and use the same server.
TEST_STORAGE = os.environ.get("ASSAY_TEST_STORAGE", "local")
if TEST_STORAGE not in ("local", "s3"):
    raise SystemExit(f"ASSAY_TEST_STORAGE={TEST_STORAGE!r}: use 'local' (the default) or 's3'.")
if TEST_STORAGE == "s3" and not os.environ.get("ASSAY_TEST_S3_ENDPOINT"):
    import atexit

    from tests.storage.conftest import ACCESS_KEY, SECRET_KEY, start_s3_server, stop_s3_server

    _s3_server = start_s3_server()
    atexit.register(stop_s3_server, _s3_server)  # its stdin closes with this process in any case
    os.environ["ASSAY_TEST_S3_ENDPOINT"] = _s3_server.endpoint
    os.environ["STORAGE_URL"] = _s3_server.storage_url(_s3_server.new_bucket())
    os.environ["AWS_ACCESS_KEY_ID"] = ACCESS_KEY
    os.environ["AWS_SECRET_ACCESS_KEY"] = SECRET_KEY

from governance.settings import *  # noqa: E402, F403

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
