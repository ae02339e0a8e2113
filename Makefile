# Two commands for a newcomer: `make run` and `make test`. Everything else here serves those two.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Pin numeric libraries to one thread: two shared cores, and oversubscribed fits were measured 5-300x slower.
export OMP_NUM_THREADS := 1
export OPENBLAS_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test lint typecheck ci demo-reset demo-tokens clean

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

## make run: set up, migrate, create the demo users and data, serve on http://127.0.0.1:8000 with the jobs' worker
# A Celery worker runs every long job (audits, bundles, reports, monitoring checks) and beat the timed ones, on the
# embedded broker (one file a message under var/queue/, no server; CELERY_BROKER_URL for another). Logs: var/log/.
# Stopping `make run` (Ctrl-C) stops them at once: the worker's cold shutdown puts a job in hand back in the queue
# (it runs at the next start); a worker still there 5 s later is killed (Celery 5.7's prefork worker can hang after
# restoring when a warm shutdown, the terminal's Ctrl-C, came first; a job it held is healed by its lease).
# The demo's own audits run in the seeding process (JOBS_IN_PROCESS=1) so its figures are there when the page opens.
WORKER := $(PY) -m celery -A governance worker --concurrency 2 --without-mingle --without-gossip --loglevel INFO \
	--logfile var/log/worker.log
BEAT := $(PY) -m celery -A governance beat --schedule var/celerybeat-schedule --loglevel INFO --logfile var/log/beat.log
run: $(VENV)/.runtime
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py install_policies
	DEBUG=1 JOBS_IN_PROCESS=1 $(PY) manage.py seed_demo
	@mkdir -p var/log; echo "Jobs: a Celery worker and beat run beside the server; logs in var/log/worker.log, beat.log."; \
	DEBUG=1 $(WORKER) & worker=$$!; DEBUG=1 $(BEAT) & beat=$$!; \
	trap 'kill -QUIT $$worker 2>/dev/null; kill -TERM $$beat 2>/dev/null; for s in 1 2 3 4 5; do \
	  kill -0 $$worker 2>/dev/null || break; sleep 1; done; kill -KILL $$worker 2>/dev/null; wait' EXIT INT TERM; \
	DEBUG=1 $(PY) manage.py runserver 127.0.0.1:8000

## make worker: the jobs' worker and beat alone (for a server started another way, e.g. runserver on another port)
.PHONY: worker
worker: $(VENV)/.runtime
	@mkdir -p var/log; DEBUG=1 $(BEAT) & beat=$$!; trap 'kill -TERM $$beat 2>/dev/null; wait $$beat' EXIT INT TERM; \
	DEBUG=1 $(WORKER)

## make demo-tokens: new API tokens for the demo's omar, rhea, olivia and ci-bot, as shell variables
## (`eval "$(make -s demo-tokens)"` sets OWNER, REVIEWER, OFFICER and CI; `make run` shows the CI token only once)
demo-tokens: $(VENV)/.runtime
	@DEBUG=1 $(PY) manage.py demo_tokens

# The portal's browser tests drive Debian's Chromium. Installed here when missing and apt is usable (root);
# elsewhere the browser tests skip and say why.
CHROMIUM := /usr/bin/chromium
.PHONY: browser
browser:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium and chromium-driver for the portal's browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    chromium chromium-driver fonts-dejavu-core >/dev/null; \
	else echo "note: $(CHROMIUM) is missing and apt-get is not usable here: the browser tests will skip"; fi

# The Spark source tests run PySpark in local mode (tests/sources/test_spark*.py). PySpark (about 450 MB, with Spark)
# is pinned apart, in requirements-spark.txt, and installed into the venv here; Java (17, else 21) comes from Debian
# when `java` is missing and apt is usable (root). When either cannot be had, the Spark tests skip and say why.
.PHONY: spark
spark: $(VENV)/.spark
test: spark  # make test installs it too, as it does Chromium
$(VENV)/.spark: $(VENV)/.runtime requirements-spark.txt
	@if java -version >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's Java runtime for the Spark source tests"; \
	  apt-get update -qq && (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    openjdk-17-jre-headless >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends openjdk-21-jre-headless >/dev/null) || echo "note: no Java from apt: the Spark tests will skip"; \
	else echo "note: Java is missing and apt-get is not usable here: the Spark tests will skip"; fi
	@if $(PY) -m pip install --quiet --disable-pip-version-check -r requirements-spark.txt; then touch $@; \
	else echo "note: PySpark (requirements-spark.txt) could not be installed: the Spark tests will skip"; fi

# The single sign-on tests run a real OpenID provider (panva's oidc-provider from the npm registry, pinned by
# tests/sso/provider/package-lock.json) on Node. Node and npm come from Debian when missing and apt is usable (root);
# elsewhere, or when the registry cannot be reached, the SSO tests skip and say why.
SSO_PROVIDER := tests/sso/provider
.PHONY: sso-provider
sso-provider: $(SSO_PROVIDER)/node_modules/.installed
$(SSO_PROVIDER)/node_modules/.installed: $(SSO_PROVIDER)/package-lock.json
	@if command -v npm >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's nodejs and npm for the SSO tests' OpenID provider"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    nodejs npm >/dev/null; \
	fi
	@if ! command -v npm >/dev/null; then echo "note: npm is missing and apt-get is not usable here: the SSO tests will skip"; \
	elif (cd $(SSO_PROVIDER) && npm ci --no-audit --no-fund --loglevel=error); then touch $@; \
	else echo "note: npm ci failed in $(SSO_PROVIDER): the SSO tests will skip"; fi

# The evidence-import tests run Inspect, garak, lm-evaluation-harness, Evidently, Giskard and promptfoo themselves
# (tests/evidence/test_produced_by_tools.py). Each tool gets an environment of its own (their pins conflict with
# Assay's and with each other's) under $(EVIDENCE_TOOLS), from the full pins in tests/data/evidence/envs/, built once
# (rebuilt when the pins change); where one cannot be built, a note, and its tests skip saying why. EVIDENCE_TOOLS may
# name a folder outside the clone, so that clones share them (tests/data/evidence/build-tools.sh says more).
export EVIDENCE_TOOLS ?= .tools
.PHONY: evidence-tools
evidence-tools:
	@PYTHON=$(PYTHON) tests/data/evidence/build-tools.sh
test: evidence-tools  # make test builds them, as it installs Chromium

## make test: set up and run the whole suite (SQLite; set DATABASE_URL for PostgreSQL)
test: $(VENV)/.dev browser sso-provider
	$(PY) -m pytest -n 2 --dist loadgroup

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: $(VENV)/.dev
	DEBUG=1 $(VENV)/bin/mypy governance registry audits obligations

## make bench: every benchmark of docs/performance.md at a quick size (a few minutes on two cores), then one table:
## each figure beside its anchor measured in the same run, the ratio, the load average and the commit (SIZE=full for
## the scripts' own sizes; DATABASE_URL=postgres://... for the trail and the gate on PostgreSQL; ab from apache2-utils)
.PHONY: bench
bench: $(VENV)/.dev
	$(PY) benchmarks/run_all.py --size $(or $(SIZE),quick)

## make ci: what CI runs (.ci/run)
ci:
	.ci/run

clean:
	rm -rf $(VENV) var
