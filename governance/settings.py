"""Django settings for Assay, read from the environment (see README "Configuration").

Defaults are for a developer's machine and need nothing installed: a SQLite file and a media folder under
``var/``, audit jobs run in-process. Production (``DEBUG`` off, the default) refuses to start without a real
``SECRET_KEY`` and explicit ``ALLOWED_HOSTS``, and then passes ``manage.py check --deploy``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from governance import storage_config
from governance.access.oidc import config as oidc_config
from governance.env import env_bool, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("ASSAY_VAR_DIR") or BASE_DIR / "var")

DEBUG = env_bool("DEBUG", default=False)

# --- secrets -------------------------------------------------------------------------------------------------
_DEV_SECRET = "django-insecure-assay-development-only-never-use-this-key-in-production-0000"  # noqa: S105 - used only with DEBUG on
SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Production (DEBUG off) needs a random secret of at least 50 characters in "
            "SECRET_KEY or a file named by SECRET_KEY_FILE, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'. For development set DEBUG=1."
        )
    SECRET_KEY = _DEV_SECRET
elif not DEBUG and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure") or len(set(SECRET_KEY)) < 5):
    raise ImproperlyConfigured(
        "SECRET_KEY is too weak for production: use at least 50 random characters (not a 'django-insecure' key)."
    )

# Key for pseudonyms (HMAC-SHA256 of data-subject ids) and for wrapping per-subject data keys. It is never stored in
# the database, and it is separate from SECRET_KEY: rotating SECRET_KEY must not change every subject's pseudonym.
_DEV_PSEUDONYM_KEY = "assay-development-pseudonym-key-never-use-in-production-000"
PSEUDONYM_KEY = env_secret("PSEUDONYM_KEY")
if not PSEUDONYM_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "PSEUDONYM_KEY is not set. Production (DEBUG off) needs a random secret of at least 32 characters in "
            "PSEUDONYM_KEY or a file named by PSEUDONYM_KEY_FILE; data subjects are known only by an HMAC under "
            "it, so keep it safe and never change it. For development set DEBUG=1."
        )
    PSEUDONYM_KEY = _DEV_PSEUDONYM_KEY
elif not DEBUG and (len(PSEUDONYM_KEY) < 32 or PSEUDONYM_KEY == SECRET_KEY or len(set(PSEUDONYM_KEY)) < 5):
    raise ImproperlyConfigured(
        "PSEUDONYM_KEY is too weak for production: use at least 32 random characters, different from SECRET_KEY."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is empty: list the host names this server answers to, comma-separated.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# --- applications --------------------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "governance.apps.GovernanceConfig",
    "governance.access.oidc.apps.OidcConfig",
    "registry.apps.RegistryConfig",
    "audits.apps.AuditsConfig",
    "audits.evidence.apps.EvidenceConfig",
    "obligations.apps.ObligationsConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "governance.web.api.middleware.ApiBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into the lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "governance.urls"
WSGI_APPLICATION = "governance.wsgi.application"
ASGI_APPLICATION = "governance.asgi.application"
AUTH_USER_MODEL = "governance.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database ------------------------------------------------------------------------------------------------
# Connections are kept for DB_CONN_MAX_AGE seconds (checked before reuse): PostgreSQL starts a server process per
# connection, and opening one per request was measured as the largest single cost of a gate decision.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'assay.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE takes the write lock when a transaction begins, so concurrent writers queue on the busy
        # timeout instead of failing with "database is locked" when a read upgrades to a write (the trail's
        # append reads the log head, then writes).
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        # recursive_triggers makes INSERT OR REPLACE fire delete triggers on the rows it replaces.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA recursive_triggers=ON;",
    }
    # A file, not :memory:, so that tests with several threads or connections see one database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-assay.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- authentication and sessions ------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "portal:login"

AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "portal/locked_out.html"
AXES_VERBOSE = False

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_HOURS", 12, minimum=1) * 3600
CSRF_COOKIE_HTTPONLY = True
# Under /api/ a refused CSRF token answers JSON like every other API error (Django's page elsewhere).
CSRF_FAILURE_VIEW = "governance.web.api.errors.csrf_failure"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=True)
    if env_bool("TRUST_X_FORWARDED_PROTO", default=False):
        # Only behind a reverse proxy that sets this header itself; otherwise clients could spoof HTTPS.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- internationalisation, files -----------------------------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or VAR_DIR / "static")
WHITENOISE_USE_FINDERS = DEBUG  # development serves straight from the app folders, no collectstatic needed
WHITENOISE_AUTOREFRESH = DEBUG
STATICFILES_DIRS = [BASE_DIR / "governance" / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Several nodes (docs/operations.md): uploaded and generated files in an S3-protocol bucket every node shares.
STORAGE_URL = env_str("STORAGE_URL")
if STORAGE_URL:
    STORAGES["default"] = storage_config.s3_storage(
        STORAGE_URL,
        access_key=env_secret("AWS_ACCESS_KEY_ID"),
        secret_key=env_secret("AWS_SECRET_ACCESS_KEY"),
        spool_bytes=env_int("STORAGE_SPOOL_BYTES", 8 * 1024 * 1024, minimum=0),
        transfer_threads=env_int("STORAGE_TRANSFER_THREADS", 2, minimum=1),
    )
# Audits and monitoring read tables and models from local files: from a bucket, each node keeps verified copies
# here (named by sha256, so never stale), the least recently used removed past STORAGE_CACHE_MAX_BYTES.
STORAGE_CACHE_DIR = Path(env_str("STORAGE_CACHE_DIR") or VAR_DIR / "cache" / "storage")
STORAGE_CACHE_MAX_BYTES = env_int("STORAGE_CACHE_MAX_BYTES", 10 * 1024**3, minimum=0)
# Declares a deployment of several nodes: `check --deploy` then names every setting that keeps state on one node
# (governance.nodes; a STORAGE_URL implies it).
SEVERAL_NODES = env_bool("SEVERAL_NODES", default=False)

# --- API -----------------------------------------------------------------------------------------------------
# Largest request body the JSON API accepts; upload endpoints declare their own, larger limit.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "governance.access.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Deny by default: a view that forgets to declare its scopes is refused for everyone.
    "DEFAULT_PERMISSION_CLASSES": ["governance.access.permissions.ScopedPermission"],
    "DEFAULT_PARSER_CLASSES": ["governance.web.api.parsers.SafeJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_THROTTLE_CLASSES": [
        "governance.access.throttling.AnonThrottle",
        "governance.access.throttling.UserThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_ANON_RATE") or "60/minute",
        "user": env_str("API_USER_RATE") or "1200/minute",
        "gate": env_str("GATE_RATE") or "120/minute",
    },
    "DEFAULT_PAGINATION_CLASS": "governance.web.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "governance.web.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "governance.api.openapi.AssaySchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Assay API",
    "DESCRIPTION": "AI governance, compliance and responsible-AI audits. Every change is an event in a signed, "
    "tamper-evident trail.\n\n"
    "The main flow, one operation each: register a model (`POST /api/v1/models/`), upload a version with its "
    "artifact (`POST /api/v1/models/{name}/versions/`, multipart `artifact`), upload an evaluation dataset "
    "(`POST /api/v1/datasets/{name}/versions/`, multipart `file`), start an audit (`POST /api/v1/audits/`), then "
    "ask the gate (`POST /api/v1/gates/check`: 200 for `pass`, 412 for anything else). Every error has one body, "
    '`{"error": {"code", "message", "details"}}`; each operation lists the statuses it can give.',
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["governance.access.permissions.AnyAuthenticated"],
    # Swagger UI assets are vendored by drf-spectacular-sidecar and served by the app itself: never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    # Several models have a "status" or an outcome; name each choice set once so the schema reads well.
    "ENUM_NAME_OVERRIDES": {
        "AuditRunStatusEnum": "audits.models.RunStatus",
        "AuditVerdictEnum": "audits.models.Verdict",
        "FindingStatusEnum": "registry.models.FindingStatus",
        "DeliveryStatusEnum": "registry.models.DeliveryStatus",
    },
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # The OpenAPI extensions (Bearer tokens) register as the schema is built: no other process imports them.
    "PREPROCESSING_HOOKS": ["governance.apps.register_schema_extensions"],
    # Tags with their descriptions (governance.api.openapi_reference.TAGS), after the enum names are settled.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "governance.api.openapi.declare_tags"],
    "REDOC_DIST": "SIDECAR",
}

# --- uploads -------------------------------------------------------------------------------------------------
# Largest model artifact accepted (413 above it). Uploads always stream to a temporary file, never to memory.
ARTIFACT_MAX_BYTES = env_int("ARTIFACT_MAX_BYTES", 200 * 1024 * 1024, minimum=1024)
# Trust roots of OpenSSF model signatures (docs/supply-chain.md): a folder with keys/<signer>.pem (public keys) and
# certificates/*.pem (CA certificates). Unset: no signer is trusted, so a signed upload is refused (unsigned is not).
MODEL_SIGNING_TRUST_DIR = env_str("MODEL_SIGNING_TRUST_DIR")
# The signers a version of a tier must be signed by ("tier=signer,...", a tier may repeat: any one of them), or the
# gate fails it and it does not deploy (docs/supply-chain.md). Empty by default: signatures are recorded, not required.
# A signer names its method (key:<name> for keys/<name>.pem, cert:<email|uri|dns|cn>:<identity> for a certificate,
# sigstore:<identity>;issuer=<OpenID issuer> for a keyless Sigstore signature), so a certificate named like a trusted
# key never stands in for it; a bare name is refused rather than guessed.
MODEL_SIGNING_REQUIRED_SIGNERS: dict[str, tuple[str, ...]] = {}
for _item in env_list("MODEL_SIGNING_REQUIRED_SIGNERS"):
    _tier, _, _signer = _item.partition("=")
    if _tier not in ("high", "limited", "minimal") or not _signer:
        raise ImproperlyConfigured(
            f"MODEL_SIGNING_REQUIRED_SIGNERS: {_item!r} is not tier=signer with tier one of high, limited, minimal."
        )
    _method, _, _name = _signer.partition(":")
    _kind, _, _identity = _name.partition(":")
    if not (
        (_method == "key" and _name)
        or (_method == "cert" and _kind in ("email", "uri", "dns", "cn") and _identity)
        or (_method == "sigstore" and all(_name.partition(";issuer=")[0::2]))
    ):
        raise ImproperlyConfigured(
            f"MODEL_SIGNING_REQUIRED_SIGNERS: the signer {_signer!r} in {_item!r} does not name its method: write "
            "key:<name> for the trusted key keys/<name>.pem, or cert:<kind>:<identity> (kind email, uri, dns or cn) "
            "for a signing certificate's identity, or sigstore:<identity>;issuer=<OpenID issuer> for a keyless "
            "Sigstore signature (docs/supply-chain.md)."
        )
    MODEL_SIGNING_REQUIRED_SIGNERS[_tier] = (*MODEL_SIGNING_REQUIRED_SIGNERS.get(_tier, ()), _signer)
# Largest dataset file (and consent CSV) accepted. Profiling holds the parsed columns in memory, so keep this well
# under the worker's RAM; larger data stays where it is and is registered by external URI.
DATASET_MAX_BYTES = env_int("DATASET_MAX_BYTES", 1024 * 1024 * 1024, minimum=1024)
# Data sources read where they live (docs/data-sources.md): the folders a parquet:// source may name, and the
# PostgreSQL connections a postgresql://<name>/<table> source may use, each declared whole by the operator
# (name=postgresql://user@host:port/database?password_env=VAR[&queries=true]). Empty: no source of that kind is
# accepted, so an API caller cannot make Assay read an arbitrary file, nor choose a host, database, role or secret.
DATA_SOURCE_ROOTS = env_list("DATA_SOURCE_ROOTS")
DATA_SOURCE_CONNECTIONS = env_list("DATA_SOURCE_CONNECTIONS")
# Object storage (s3://bucket/prefix?endpoint=...&region=..., credentials from the variables it names) and Iceberg
# catalogs (name=sqlite:////path/catalog.db) that s3://, delta+s3:// and iceberg:// sources may use.
DATA_SOURCE_BUCKETS = env_list("DATA_SOURCE_BUCKETS")
DATA_SOURCE_CATALOGS = env_list("DATA_SOURCE_CATALOGS")
# Spark connections (name=<master>?warehouse=...&metastore=...) that spark:// sources may use (docs/data-sources.md).
DATA_SOURCE_SPARK = env_list("DATA_SOURCE_SPARK")
# Bounded inputs: what one upload may make Assay unpack, parse or build, checked before memory grows (413/422 above).
# A skops file is a ZIP: its members unpacked in total and each, and how many; schema.json is parsed whole. The
# total also bounds all the tensors an ONNX graph holds or computes from constants.
ARTIFACT_MAX_UNPACKED_BYTES = env_int("ARTIFACT_MAX_UNPACKED_BYTES", 1024 * 1024 * 1024, minimum=1024)
ARTIFACT_MAX_MEMBER_BYTES = env_int("ARTIFACT_MAX_MEMBER_BYTES", 512 * 1024 * 1024, minimum=1024)
ARTIFACT_MAX_MEMBERS = env_int("ARTIFACT_MAX_MEMBERS", 100_000, minimum=1)
SKOPS_MAX_SCHEMA_BYTES = env_int("SKOPS_MAX_SCHEMA_BYTES", 32 * 1024 * 1024, minimum=1024)
# ONNX: nodes in all graphs, and the largest tensor a graph may hold or compute from constants alone.
ONNX_MAX_NODES = env_int("ONNX_MAX_NODES", 100_000, minimum=1)
ONNX_MAX_TENSOR_BYTES = env_int("ONNX_MAX_TENSOR_BYTES", 256 * 1024 * 1024, minimum=1024)
# Datasets (CSV, Parquet): columns (counted in the header line, or the Parquet schema, before parsing) and the
# longest text value, in bytes. DATASET_MAX_BYTES also bounds what a Parquet file may unpack to.
DATASET_MAX_COLUMNS = env_int("DATASET_MAX_COLUMNS", 10_000, minimum=1)
DATASET_MAX_CELL_BYTES = env_int("DATASET_MAX_CELL_BYTES", 1024 * 1024, minimum=16)
# A dataset file larger than this is profiled batch by batch, in bounded memory, with the same results (docs/data.md).
DATASET_STREAM_ABOVE_BYTES = env_int("DATASET_STREAM_ABOVE_BYTES", 64 * 1024 * 1024, minimum=0)
# A dataset file larger than this is stored by the web node and profiled by a worker; the API answers 202 with an
# upload to poll (docs/data.md). 0: every upload is profiled in its request.
DATASET_PROFILE_IN_WORKER_BYTES = env_int("DATASET_PROFILE_IN_WORKER_BYTES", 64 * 1024 * 1024, minimum=0)
# The audit policy each EU AI Act risk tier needs a passing audit under before a version deploys ("tier=policy,...";
# a tier left out deploys without an audit). Prohibited models never deploy at all.
AUDIT_REQUIRED_POLICIES: dict[str, str] = {}
for _item in env_list("AUDIT_REQUIRED_POLICIES", ["high=eu-ai-act-high-risk", "limited=baseline"]):
    _tier, _, _policy = _item.partition("=")
    if _tier not in ("high", "limited", "minimal") or not _policy:
        raise ImproperlyConfigured(
            f"AUDIT_REQUIRED_POLICIES: {_item!r} is not tier=policy with tier one of high, limited, minimal."
        )
    AUDIT_REQUIRED_POLICIES[_tier] = _policy
# The obligation catalogues in which no applicable obligation may be missing when a version of a tier deploys
# ("tier=catalogue,...", a tier may repeat; docs/obligations.md). Empty by default: the obligations are shown, not
# enforced, until an organisation decides to.
OBLIGATIONS_REQUIRED_FOR_DEPLOY: dict[str, tuple[str, ...]] = {}
for _item in env_list("OBLIGATIONS_REQUIRED_FOR_DEPLOY"):
    _tier, _, _catalogue = _item.partition("=")
    if _tier not in ("high", "limited", "minimal") or not _catalogue:
        raise ImproperlyConfigured(
            f"OBLIGATIONS_REQUIRED_FOR_DEPLOY: {_item!r} is not tier=catalogue with tier one of high, limited, minimal."
        )
    OBLIGATIONS_REQUIRED_FOR_DEPLOY[_tier] = (*OBLIGATIONS_REQUIRED_FOR_DEPLOY.get(_tier, ()), _catalogue)
# Without a Celery worker, audits run in process inside the request that starts them: each check's time budget
# (SHAP, attacks) is capped at this many seconds there. With a worker, the policy's budgets apply.
AUDIT_INLINE_MAX_BUDGET_SECONDS = env_int("AUDIT_INLINE_MAX_BUDGET_SECONDS", 60, minimum=1)
# The approval gate: how long it may wait for an audit it started before answering "pending", how long a pass token
# stays valid, and whether deploying through the API needs a valid pass token for that version and environment.
GATE_MAX_WAIT_SECONDS = env_int("GATE_MAX_WAIT_SECONDS", 30, minimum=0)
GATE_TOKEN_TTL_SECONDS = env_int("GATE_TOKEN_TTL_SECONDS", 3600, minimum=60)
GATE_REQUIRE_TOKEN_FOR_DEPLOY = env_bool("GATE_REQUIRE_TOKEN_FOR_DEPLOY", default=False)
# Consent coverage over fewer subjects than this is shown only to consent keepers (officers, administrators).
COVERAGE_MIN_SUBJECTS = env_int("COVERAGE_MIN_SUBJECTS", 10, minimum=1)
# Base URI of the ``assay:`` prefix in PROV-JSON lineage exports.
PROV_NAMESPACE_URI = env_str("PROV_NAMESPACE_URI") or "https://assay.example/ns#"
# Largest piece of personal data stored about one subject (sealed JSON).
PERSONAL_RECORD_MAX_BYTES = env_int("PERSONAL_RECORD_MAX_BYTES", 16 * 1024, minimum=256)
# What the controller tells a data subject with every access answer (GDPR Art. 15(1)(a)-(h) and 15(2)). Assay cannot
# know these facts, so it never writes them itself: each one left empty is named in the export as a gap the
# controller must fill (see governance.data.subject_access).
GDPR_CONTROLLER = env_str("GDPR_CONTROLLER")  # identity and contact details of the controller
GDPR_PURPOSES = env_str("GDPR_PURPOSES")  # (a) purposes beyond those recorded with consent
GDPR_DATA_CATEGORIES = env_str("GDPR_DATA_CATEGORIES")  # (b) categories of personal data
GDPR_RECIPIENTS = env_str("GDPR_RECIPIENTS")  # (c) recipients or categories of recipient
GDPR_RETENTION = env_str("GDPR_RETENTION")  # (d) storage period, or the criteria that set it
GDPR_RIGHTS_CONTACT = env_str("GDPR_RIGHTS_CONTACT")  # (e) where and how to ask for rectification, erasure, ...
GDPR_SUPERVISORY_AUTHORITY = env_str("GDPR_SUPERVISORY_AUTHORITY")  # (f) the authority and its contact details
GDPR_DATA_SOURCE = env_str("GDPR_DATA_SOURCE")  # (g) source of data not collected from the subject
GDPR_AUTOMATED_DECISIONS = env_str("GDPR_AUTOMATED_DECISIONS")  # (h) automated decisions: logic, significance
GDPR_TRANSFER_SAFEGUARDS = env_str("GDPR_TRANSFER_SAFEGUARDS")  # Art. 15(2): safeguards for third-country transfers

FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.TemporaryFileUploadHandler"]
# (FILE_UPLOAD_TEMP_DIR: see "leases and temporary files" below.)

# --- webhooks ------------------------------------------------------------------------------------------------
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 5, minimum=1)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1)
WEBHOOK_MAX_PER_MODEL = env_int("WEBHOOK_MAX_PER_MODEL", 5, minimum=1)
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", default=DEBUG)
# Only public addresses by default: loopback, private, link-local (cloud metadata) targets need this set.
WEBHOOK_ALLOW_LOCAL = env_bool("WEBHOOK_ALLOW_LOCAL", default=False)

# --- cache ---------------------------------------------------------------------------------------------------
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "assay"}}
if env_str("CACHE_URL"):
    CACHES["default"] = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env_str("CACHE_URL")}

# --- jobs ----------------------------------------------------------------------------------------------------
# Long work (audits, bundles, reports, monitoring checks) runs in a Celery worker, never in a web request.
# CELERY_BROKER_URL unset, the embedded default: kombu's filesystem transport, one message a file under
# JOBS_QUEUE_DIR, so the worker `make run` starts needs no server and a queued job outlives a restart of either
# process (docs/operations.md, "Jobs in the embedded default"). Set it (Redis) for several hosts.
# JOBS_IN_PROCESS=1 runs each job in the process that queues it, as it commits (the test suite; one-off scripts).
CELERY_TASK_ALWAYS_EAGER = env_bool("JOBS_IN_PROCESS", default=False)
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "filesystem://localhost/"
JOBS_QUEUE_DIR = Path(env_str("JOBS_QUEUE_DIR") or VAR_DIR / "queue")
if CELERY_BROKER_URL.startswith("filesystem:"):
    try:
        (JOBS_QUEUE_DIR / "control").mkdir(parents=True, exist_ok=True)
    except OSError as _exc:
        raise ImproperlyConfigured(
            f"JOBS_QUEUE_DIR {JOBS_QUEUE_DIR} cannot be created ({_exc.strerror}): set JOBS_QUEUE_DIR (or "
            "ASSAY_VAR_DIR) to a folder Assay may write, or CELERY_BROKER_URL to a broker."
        ) from None
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(JOBS_QUEUE_DIR),
        "data_folder_out": str(JOBS_QUEUE_DIR),
        "control_folder": str(JOBS_QUEUE_DIR / "control"),
        "polling_interval": 0.5,  # seconds a waiting worker sleeps between looks at the folder
    }
    # Remote control broadcasts to every worker that ever bound its queue: dead workers' files would pile up.
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or None
# The queue jobs are sent to and workers take (`celery worker -Q`): deployments sharing one Redis each name their own.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE") or "celery"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]  # never pickle
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
# For `celery -A governance beat`: time-based checkpoints (appends only check on commit) and webhook retries.
CELERY_BEAT_SCHEDULE = {
    "trail-checkpoint-if-due": {"task": "governance.issue_checkpoint", "schedule": 60.0},
    "webhook-retries": {"task": "registry.retry_due_webhooks", "schedule": 30.0},
    # Monitoring: every batch check still due (queued ones a worker lost, late labels); see `manage.py monitor`.
    "monitoring-due-checks": {"task": "registry.monitoring.run_due_checks", "schedule": 300.0},
    # Evidence bundles whose build job was lost (a worker died, a message vanished) are queued again.
    "exports-resume-lost-builds": {"task": "exports.resume_lost_builds", "schedule": 600.0},
}

# --- leases and temporary files (issue 17): work whose worker died heals --------------------------------------
# A running audit beats (records heartbeat_at) every AUDIT_LEASE_SECONDS / 4 seconds; one silent for longer than the
# lease lost its worker and is stale (see audits.actions: a job takes it over, a new request replaces it).
AUDIT_LEASE_SECONDS = env_int("AUDIT_LEASE_SECONDS", 120, minimum=8)
# How many times a run is started (the first time and each take-over) before a run whose worker keeps dying ends as
# error: an input that kills its worker must not kill workers for ever.
AUDIT_MAX_ATTEMPTS = env_int("AUDIT_MAX_ATTEMPTS", 2, minimum=1)
# Uploads are staged here (Django's temporary upload files), never in the shared system temporary folder, so what a
# killed process left behind can be found and removed: `manage.py cleanup_temp` and the beat entry below remove
# files in it older than TEMP_FILE_MAX_AGE_SECONDS (no request takes that long to use its upload).
FILE_UPLOAD_TEMP_DIR = env_str("FILE_UPLOAD_TEMP_DIR") or str(VAR_DIR / "tmp" / "uploads")
try:
    Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
except OSError as _exc:
    raise ImproperlyConfigured(
        f"FILE_UPLOAD_TEMP_DIR {FILE_UPLOAD_TEMP_DIR} cannot be created ({_exc.strerror}): set FILE_UPLOAD_TEMP_DIR "
        "(or ASSAY_VAR_DIR) to a folder Assay may write."
    ) from None
TEMP_FILE_MAX_AGE_SECONDS = env_int("TEMP_FILE_MAX_AGE_SECONDS", 24 * 3600, minimum=60)
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # with acks late: a job whose pool process died is delivered again
CELERY_BEAT_SCHEDULE["audits-recover-stale-runs"] = {"task": "audits.recover_stale_runs", "schedule": 60.0}
CELERY_BEAT_SCHEDULE["cleanup-temp-files"] = {"task": "governance.cleanup_temp", "schedule": 3600.0}
# (leases-settings-end)

# --- the trail -----------------------------------------------------------------------------------------------
# Origin line of every checkpoint: names this log uniquely (C2SP tlog-checkpoint: a schema-less URL).
TRAIL_ORIGIN = env_str("TRAIL_ORIGIN") or "assay.local/trail"
# Signing keys: a PEM Ed25519 private key (file or variable). Empty in development: one is created under var/.
TRAIL_SIGNING_KEY = env_secret("TRAIL_SIGNING_KEY")
TRAIL_SIGNING_KEY_NAME = env_str("TRAIL_SIGNING_KEY_NAME") or "assay-trail"
TRAIL_KEY_DIR = Path(env_str("TRAIL_KEY_DIR") or VAR_DIR / "keys")
TRAIL_CHECKPOINT_EVERY_EVENTS = env_int("TRAIL_CHECKPOINT_EVERY_EVENTS", 100, minimum=1)
TRAIL_CHECKPOINT_EVERY_SECONDS = env_int("TRAIL_CHECKPOINT_EVERY_SECONDS", 3600, minimum=1)
# `verify_trail --incremental` keeps the last checkpoint it verified here (a signed note; delete it for a full run).
TRAIL_VERIFIED_CHECKPOINT_FILE = Path(env_str("TRAIL_VERIFIED_CHECKPOINT_FILE") or VAR_DIR / "trail-verified.note")
# Witnesses that cosign each checkpoint (C2SP tlog-witness, docs/witnesses.md): comma-separated "<URL> <witness key>"
# pairs, the URL being the witness's submission prefix (add-checkpoint is appended). Empty: no witnesses.
TRAIL_WITNESSES = env_list("TRAIL_WITNESSES")
TRAIL_WITNESS_TIMEOUT_SECONDS = env_int("TRAIL_WITNESS_TIMEOUT_SECONDS", 10, minimum=1)
# How appends reach the log (docs/trail.md, "Sequencing"): "inline" (the default) appends inside the action's
# transaction under the trail's lock; "batched" queues the event there and a sequencer appends queued events in
# batches, after each commit in process and every TRAIL_SEQUENCER_SWEEP_SECONDS in the worker (beat).
TRAIL_SEQUENCING = env_str("TRAIL_SEQUENCING") or "inline"
if TRAIL_SEQUENCING not in ("inline", "batched"):
    raise ImproperlyConfigured(f"TRAIL_SEQUENCING={TRAIL_SEQUENCING!r}: use 'inline' or 'batched'.")
TRAIL_SEQUENCER_BATCH = env_int("TRAIL_SEQUENCER_BATCH", 1000, minimum=1)
CELERY_BEAT_SCHEDULE["trail-sequence-queued"] = {
    "task": "governance.sequence_trail",
    "schedule": float(env_int("TRAIL_SEQUENCER_SWEEP_SECONDS", 5, minimum=1)),
}
if not DEBUG and not TRAIL_SIGNING_KEY and not env_bool("TRAIL_ALLOW_GENERATED_KEY", default=False):
    raise ImproperlyConfigured(
        "TRAIL_SIGNING_KEY (or TRAIL_SIGNING_KEY_FILE) is not set. Production checkpoints must be signed with a "
        "key you keep: create one with 'python manage.py trail_keygen' and set TRAIL_SIGNING_KEY_FILE to it."
    )

# --- reports (issue 8): PDF reports and their PAdES signing certificate ------------------------------------
# The PAdES signing certificate and its private key (PEM files; an encrypted key needs the password). Unset: a
# self-signed certificate is created on first use under REPORT_KEY_DIR (default: TRAIL_KEY_DIR) and kept.
REPORT_SIGNING_KEY_FILE = env_str("REPORT_SIGNING_KEY_FILE")
REPORT_SIGNING_CERT_FILE = env_str("REPORT_SIGNING_CERT_FILE")
REPORT_SIGNING_KEY_PASSWORD = env_secret("REPORT_SIGNING_KEY_PASSWORD")
if bool(REPORT_SIGNING_KEY_FILE) != bool(REPORT_SIGNING_CERT_FILE):
    raise ImproperlyConfigured("Set both REPORT_SIGNING_KEY_FILE and REPORT_SIGNING_CERT_FILE, or neither.")
REPORT_KEY_DIR = env_str("REPORT_KEY_DIR")  # empty: TRAIL_KEY_DIR, read when the certificate is first needed
# The signer's name in a generated certificate (CN) and the signature's location field.
REPORT_SIGNER_NAME = env_str("REPORT_SIGNER_NAME") or "Assay report signing"
# (reports-settings-end)

# --- exports (issue 8): regulator evidence bundles and regulator access ---------------------------------------
# The longest a share with a regulator may last (days from its creation); it can always be revoked sooner.
EXPORT_SHARE_MAX_DAYS = env_int("EXPORT_SHARE_MAX_DAYS", 365, minimum=1)
# A bundle still queued or building after this long lost its worker: the next job (or export) takes it over.
EXPORT_STALE_BUILD_SECONDS = env_int("EXPORT_STALE_BUILD_SECONDS", 3600, minimum=60)
# (exports-settings-end)

# --- monitoring (issue 10): drift, live fairness, alerts ------------------------------------------------------
# Largest production batch (or labels) upload, in bytes (413 above it).
MONITORING_BATCH_MAX_BYTES = env_int("MONITORING_BATCH_MAX_BYTES", 512 * 1024 * 1024, minimum=1024)
# Largest result file of another tool imported as evidence (docs/evidence.md); a reader never accepts more than 64 MiB.
EVIDENCE_MAX_BYTES = env_int("EVIDENCE_MAX_BYTES", 64 * 1024 * 1024, minimum=1024)
# A check still running after this long lost its worker; the next sweep takes it over.
MONITORING_CHECK_LEASE_SECONDS = env_int("MONITORING_CHECK_LEASE_SECONDS", 900, minimum=10)
# E-mail the model's team when monitoring opens a finding (Django's e-mail backend; the console unless configured).
MONITORING_EMAIL_ALERTS = env_bool("MONITORING_EMAIL_ALERTS", default=True)
EMAIL_BACKEND = env_str("EMAIL_BACKEND") or "django.core.mail.backends.console.EmailBackend"
EMAIL_HOST = env_str("EMAIL_HOST") or "localhost"
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL") or "assay@localhost"
# The monitoring tasks live outside the apps' tasks modules; workers import them here.
CELERY_IMPORTS = ("audits.monitoring.tasks",)
# (monitoring-settings-end)

# --- portal (issue 9) ----------------------------------------------------------------------------------------
# Template filters of the portal (numbers, intervals, outcomes) are available in every template without {% load %}.
_PORTAL_TEMPLATE_OPTIONS: dict = TEMPLATES[0]["OPTIONS"]  # type: ignore[assignment]  # the dict defined above
_PORTAL_TEMPLATE_OPTIONS["builtins"] = ["governance.portal.templatetags.portal"]
_PORTAL_TEMPLATE_OPTIONS["context_processors"].append("governance.portal.context.portal")
# Rows per page of every portal list.
PORTAL_PAGE_SIZE = env_int("PORTAL_PAGE_SIZE", 25, minimum=5)
# (portal-settings-end)

# --- single sign-on (issue 24): OpenID Connect, docs/sso.md ---------------------------------------------------
# Unset OIDC_ISSUER: local accounts only. Endpoints and keys come from the issuer's discovery document.
OIDC_ISSUER = env_str("OIDC_ISSUER").rstrip("/")
OIDC_RP_CLIENT_ID = env_str("OIDC_CLIENT_ID")
OIDC_RP_CLIENT_SECRET = env_secret("OIDC_CLIENT_SECRET")
OIDC_RP_SCOPES = env_str("OIDC_SCOPES") or "openid profile email"
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME") or "your organisation's account"
OIDC_TOKEN_AUTH = oidc_config.parse_token_auth(env_str("OIDC_TOKEN_AUTH"))
OIDC_SIGN_ALGORITHMS = oidc_config.parse_algorithms(env_list("OIDC_SIGN_ALGORITHMS"))
OIDC_USERNAME_CLAIM = env_str("OIDC_USERNAME_CLAIM") or "preferred_username"
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM") or "groups"
# Ordered "group=role" pairs (the first group a person is in decides) and "group=team" pairs.
OIDC_ROLE_MAP = oidc_config.parse_role_map(env_list("OIDC_ROLE_MAP"))
OIDC_TEAM_MAP = oidc_config.parse_team_map(env_list("OIDC_TEAM_MAP"))
OIDC_LEEWAY_SECONDS = env_int("OIDC_LEEWAY_SECONDS", 60, minimum=0)
OIDC_TIMEOUT_SECONDS = env_int("OIDC_TIMEOUT_SECONDS", 10, minimum=1)
OIDC_METADATA_CACHE_SECONDS = env_int("OIDC_METADATA_CACHE_SECONDS", 3600, minimum=0)
OIDC_JWKS_CACHE_SECONDS = env_int("OIDC_JWKS_CACHE_SECONDS", 3600, minimum=0)
OIDC_JWKS_MIN_REFRESH_SECONDS = env_int("OIDC_JWKS_MIN_REFRESH_SECONDS", 10, minimum=0)
# No password sign-in for anyone (portal and admin site); API tokens keep working.
SSO_ONLY = env_bool("SSO_ONLY", default=False)
oidc_config.check_sso(
    issuer=OIDC_ISSUER, client_id=OIDC_RP_CLIENT_ID, client_secret=OIDC_RP_CLIENT_SECRET, sso_only=SSO_ONLY, debug=DEBUG
)
AUTHENTICATION_BACKENDS = oidc_config.authentication_backends(sso=bool(OIDC_ISSUER), sso_only=SSO_ONLY)
# (sso-settings-end)

# --- logging -------------------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"refusals": {"()": "governance.web.logs.RefusalsWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["refusals"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL") or "INFO"},
    "loggers": {
        # shap and adversarial-robustness-toolbox log one INFO line per explained or attacked row: hundreds per audit.
        **{name: {"level": "WARNING"} for name in ("axes", "shap", "art")},
        # Django's own console handler on "django" (DEBUG only) printed each record a second time on its way to the
        # root's: configured here without handlers, django.* records are written once, by the root's.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
    },
}
