# Two commands for a newcomer: `make run` and `make test`. Both set everything up first.
VENV  := .venv
PY    := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
STAMP := $(VENV)/.installed-requirements
DEV_STAMP := $(VENV)/.installed-requirements-dev
PORT  ?= 5000
# The suite runs on this many processes (pytest-xdist). Its real-server and browser tests wait
# on subprocesses, sockets and fsyncs, its media tests on the CPU: one more worker than the 2
# cores was the best measured here (155 tests: 1 process 118 s, 2: 80 s, 3: 73 s, 4: 98 s, on a
# machine shared with other jobs). `make test TEST_WORKERS=0` runs it in one process.
TEST_WORKERS ?= 3

.PHONY: run test test-postgres bench init-db lint install install-dev translations e2e-deps services-deps

CATALOGS := $(wildcard contest/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)

# (Re)install whenever requirements.txt changes; a stamp file records the last install.
# requirements.txt is what running the site needs, nothing more, so a newcomer's first `make run`
# does not wait for the test tools (the browser driver, moto, ...): those are in
# requirements-dev.txt, which the test and bench targets install on top, with a stamp of its own.
#
# uv installs them (pinned here, itself put in the venv by pip), linking wheels from its cache
# instead of unpacking them again: on a fresh clone here `make install-dev` took 14 s instead of
# 54 s with pip (medians of 3). Like `pip --no-compile` before it, it does not byte-compile the
# packages (about 14,000 modules with the test tools), while only what the site and the tests
# import is ever run; Python compiles and caches those on first import.
# That caching needs bytecode writing on: with PYTHONDONTWRITEBYTECODE set in the environment
# (as on this machine, and so in CI) every process compiled everything it imported again, and
# importing the app on a fresh clone took 5.7 s instead of 1.9 s, in every test worker, server
# and `flask` command the suite starts. make's commands run without it; the caches go to the
# venv and to __pycache__ folders, which git ignores.
unexport PYTHONDONTWRITEBYTECODE
UV_VERSION := 0.13.9
UV_INSTALL := $(VENV)/bin/uv pip install --quiet --python $(PY)

$(STAMP): requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet uv==$(UV_VERSION)
	$(UV_INSTALL) -r requirements.txt
	touch $(STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(UV_INSTALL) -r requirements-dev.txt
	touch $(DEV_STAMP)

install-dev: install $(DEV_STAMP)

# Compiled catalogues are built, never committed.
%.mo: %.po $(STAMP)
	$(VENV)/bin/pybabel compile --statistics -i $< -o $@

# tus-js-client (resumable uploads on the entry form) from npm, pinned by client/package-lock.json
# and copied into contest/static/vendor/ (gitignored): never committed, never from a CDN.
TUS_JS := contest/static/vendor/tus.min.js

$(TUS_JS): client/package.json client/package-lock.json
	npm ci --prefix client --no-audit --no-fund
	mkdir -p contest/static/vendor
	cp client/node_modules/tus-js-client/dist/tus.min.js $@

install: $(STAMP) $(COMPILED) $(TUS_JS)

# After changing user-facing text: extract it, update the catalogues, translate, then commit.
translations: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k translatable --no-location \
		--sort-output -o contest/translations/messages.pot .
	$(VENV)/bin/pybabel update -i contest/translations/messages.pot -d contest/translations \
		--no-fuzzy-matching

init-db: install
	$(FLASK) init-db

# Debian's nginx, installed only when missing (as Chromium below). Installing the package also
# enables the system's own nginx site on port 80 where systemd runs; `make run` does not use it.
NGINX := /usr/sbin/nginx
SUDO  := $(if $(filter 0,$(shell id -u)),,sudo)

$(NGINX):
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx

# The job worker (video playback copies) runs beside the web server and stops with it.
# server/gunicorn_conf.py holds the server's settings (the tests and the load bench use it too):
# nginx on 127.0.0.1:$(PORT) takes every request whole, slow phones included, before gunicorn's
# gthread workers get it over a Unix socket, so slow uploads cannot hold gunicorn's threads.
run: init-db $(NGINX)
	$(FLASK) worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	PORT=$(PORT) $(VENV)/bin/gunicorn --config server/gunicorn_conf.py wsgi:app

# The browser tests (tests/e2e) drive Debian's Chromium through Playwright (never
# `playwright install`: its download does not work here) and check pages with axe-core from npm.
# Chromium is installed only when missing, axe-core whenever the lock file changes; after that
# `make test` needs no network.
CHROMIUM  := /usr/bin/chromium
AXE_STAMP := tests/e2e/node_modules/.installed-lock

$(CHROMIUM):
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium

$(AXE_STAMP): tests/e2e/package.json tests/e2e/package-lock.json
	npm ci --prefix tests/e2e --no-audit --no-fund
	touch $@

e2e-deps: $(CHROMIUM) $(AXE_STAMP)

# The video tests check playback copies with ffprobe (streams and tags as a browser's demuxer
# sees them, independent of PyAV's view): Debian's ffmpeg, installed only when missing.
FFPROBE := /usr/bin/ffprobe

$(FFPROBE):
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg

# PYTEST_ARGS passes options through, e.g. `make test PYTEST_ARGS="-m 'not slow'"`. Tests that
# must share one process (each of the two groups of browser tests shares a live site) carry an
# xdist_group mark, which --dist loadgroup keeps together; every other test may run on any worker.
PYTEST := $(PY) -m pytest $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadgroup)

test: install-dev e2e-deps $(FFPROBE) $(NGINX)
	$(PYTEST) $(PYTEST_ARGS)

# The scale-out path: the whole suite again on PostgreSQL, with the job queue and the rate
# limits on Redis, both Debian's servers started on the loopback for the run and removed after
# it (tests/services/with-postgres-and-redis.sh). They are installed only when missing.
PG_INITDB := $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb))

services-deps:
	@if [ -z "$(PG_INITDB)" ] || ! command -v redis-server >/dev/null; then \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			postgresql redis-server; \
	fi

test-postgres: install-dev e2e-deps services-deps $(FFPROBE) $(NGINX)
	tests/services/with-postgres-and-redis.sh $(PYTEST) $(PYTEST_ARGS)

# The load bench runs twice: on the embedded default, then on PostgreSQL and Redis.
bench: install-dev services-deps $(NGINX)
	$(UV_INSTALL) -r bench/requirements.txt
	$(PY) bench/photo_pipeline.py
	$(PY) bench/provenance.py
	$(PY) bench/video_pipeline.py
	$(PY) bench/upload_memory.py
	$(PY) bench/resumable_upload.py
	$(PY) bench/submit_after_check.py
	$(PY) bench/judging.py
	$(PY) bench/load.py
	tests/services/with-postgres-and-redis.sh $(PY) bench/load.py
	$(PY) bench/growth.py

lint: install-dev
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
