"""Fixtures: an app on a real database (a SQLite file, or PostgreSQL under `make test-postgres`)
and a real upload folder for every test."""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jinja2 import BytecodeCache
from sqlalchemy import select
from sqlalchemy.pool import NullPool

from contest import create_app
from contest.core.extensions import db

from . import databases
from .photos import photo_bytes, stored_photo
from .s3_server import S3Server


def _config(tmp: Path, *, pooled: bool = False, **overrides) -> dict:
    # Where Redis stands in for the SQLite queue (make test-postgres), each test's app gets its
    # own queue on the shared server.
    own = hashlib.sha1(str(tmp).encode()).hexdigest()[:12]
    return {
        "TESTING": True,
        "SECRET_KEY": "test-only-key",
        "SQLALCHEMY_DATABASE_URI": databases.url_for(tmp),
        "HUEY_NAME": f"contest-test-{own}",
        # On PostgreSQL an app a test makes by hand closes its connections as soon as they are
        # released, so dropping it leaves no open connection for the garbage collector to warn
        # about. The fixtures' apps (`pooled`) keep the production pool: `make_app` disposes
        # of each at the end of its test, and a new connection per request (a new server
        # process each time) took 68 s where the pool takes 40 s, for 176 tests.
        **(
            {"SQLALCHEMY_ENGINE_OPTIONS": {"poolclass": NullPool}}
            if databases.ON_POSTGRES and not pooled
            else {}
        ),
        "UPLOAD_FOLDER": str(tmp / "uploads"),
        "WTF_CSRF_ENABLED": False,
        # Cheap hashing keeps staff fixtures fast; test_auth checks the production cost.
        "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
        **overrides,
    }


# Parallel runs (pytest-xdist, `make test`) ---------------------------------------------------
# Each worker is a process of its own with its own temporary folder (so its own SQLite files,
# upload folders and, on PostgreSQL, database names: tests/databases.py), its own ports (free_port)
# and its own browser site. What the workers would still share is set apart here.
E2E_FOLDER = Path(__file__).parent / "e2e"
E2E_GROUP = "e2e-site"
# The browser tests that mostly wait (an upload throttled, offline or backing off between
# retries: about 85 of the 240 s that all browser tests took one after another in a full run)
# are a second group, with a site and a Chromium of their own on another worker, so that they
# wait while the other browser tests run instead of after them. The one chain of browser tests
# was the run's longest path. In two groups the SQLite run took 227 s against 238 s (back to
# back) and the PostgreSQL run 265 s against 276 s (an hour apart). An earlier try of two groups
# measured nothing: the grouping itself was broken then (see below).
E2E_WAITING_GROUP = "e2e-waiting"
E2E_WAITING_MODULES = frozenset({"test_resumable.py", "test_resumable_several.py"})
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ... under xdist, else ""


def pytest_configure(config) -> None:
    """Give each worker a Redis database of its own for the rate limits.

    `_fresh_rate_limits` empties the rate-limit database before every test; on one database
    shared by all workers, a worker would wipe the counts another's test is in the middle of
    checking. Redis has 16 numbered databases: the queue keeps 0, worker n takes n + 1.
    """
    uri = os.environ.get("CONTEST_RATELIMIT_STORAGE_URI", "")
    if WORKER and uri.startswith("redis://"):
        number = int(WORKER.removeprefix("gw")) + 1
        assert number < 16, "more test workers than Redis has databases"
        os.environ["CONTEST_RATELIMIT_STORAGE_URI"] = re.sub(r"/\d*$", f"/{number}", uri)


def _share_url_builders() -> None:
    """Compile each URL rule's builder once per process instead of once per test app.

    Every test builds its own app, and Werkzeug compiles the ~110 routes of each new app into
    Python functions (an AST, then `compile`): 35 of the 43 ms that `create_app` takes, over a
    thousand times a run. A builder depends only on the rule's text and parts (the converters
    are looked up on the rule when it runs), so rules without defaults share one. Test-only:
    a served app is built once per process. Werkzeug is pinned; a release that renames this
    method fails here, loudly, rather than quietly losing the cache.
    """
    from werkzeug.routing import Rule

    compile_builder = Rule._compile_builder
    builders: dict[tuple, Callable] = {}

    def shared(self: Rule, append_unknown: bool = True) -> Callable:
        if self.defaults:  # a default is folded in through its converter: not shared
            return compile_builder(self, append_unknown)
        key = (self.rule, tuple(self._trace), append_unknown)
        if (builder := builders.get(key)) is None:
            builder = builders[key] = compile_builder(self, append_unknown)
        return builder

    Rule._compile_builder = shared


_share_url_builders()


# First: pytest-xdist reads the mark in its own hook of the same name, which would otherwise
# run before this one (a conftest registers earlier, and pluggy calls the latest first).
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items) -> None:
    """Keep each group of browser tests on one worker: a group shares one live site
    (tests/e2e/conftest.py), which takes seconds to start and a gunicorn and job worker to run,
    and one Chromium. `--dist loadgroup` honours the mark; without xdist it does nothing."""
    for item in items:
        if E2E_FOLDER in item.path.parents:
            waiting = item.path.name in E2E_WAITING_MODULES
            item.add_marker(pytest.mark.xdist_group(E2E_WAITING_GROUP if waiting else E2E_GROUP))


@pytest.hookimpl(optionalhook=True)  # xdist's own hook: absent under -p no:xdist
def pytest_xdist_node_collection_finished(node, ids) -> None:
    """Stop a parallel run whose browser tests were not grouped, rather than let each worker
    start a site and a Chromium of its own (three sites on two cores: slower, and keys went
    missing). It happened silently twice: the hook above ran after xdist's, and pytest 9.2
    moved the node id that xdist 3.8 rewrites to group (pytest-xdist#1386; pytest is pinned
    below 9.2 in requirements-dev.txt until a fixed xdist is out)."""
    if node.config.getvalue("dist") != "loadgroup":
        return
    groups = (f"@{E2E_GROUP}", f"@{E2E_WAITING_GROUP}")
    loose = [i for i in ids if i.startswith("tests/e2e/") and not i.endswith(groups)]
    if loose:
        pytest.exit(f"pytest-xdist did not group the browser tests: {loose[:2]}", returncode=4)


@pytest.fixture(scope="session", autouse=True)
def compiled_translations() -> None:
    """Compile the English catalogue when it is missing or stale (make does it too).

    Written to a temporary name and renamed: a parallel worker reading the catalogue meanwhile
    sees the old file or the new one, never half of one.
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    folder = Path(__file__).parents[1] / "contest" / "translations"
    for po_path in folder.glob("*/LC_MESSAGES/messages.po"):
        mo_path = po_path.with_suffix(".mo")
        if not mo_path.exists() or mo_path.stat().st_mtime < po_path.stat().st_mtime:
            partial = mo_path.with_name(f".{mo_path.name}.{os.getpid()}")
            with open(po_path, "rb") as po, open(partial, "wb") as mo:
                write_mo(mo, read_po(po))
            os.replace(partial, mo_path)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One S3 server (moto, in a child process) for each test process's whole session.

    Here, not in a test module: a session fixture imported into several modules is made once
    per module, and four modules use it (eight servers a run, 1.5 s of CPU each)."""
    server = S3Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory) -> Iterator[str]:
    """A database with the migrations applied and the fair's contest seeded, made once."""
    tmp = tmp_path_factory.mktemp("template")
    os.environ["CONTEST_INSTANCE_PATH"] = str(tmp / "instance")
    try:
        app = create_app(_config(tmp, SQLALCHEMY_DATABASE_URI=databases.template_url(tmp)))
    finally:
        del os.environ["CONTEST_INSTANCE_PATH"]
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        # Closing every connection folds SQLite's WAL into the file; PostgreSQL copies a
        # template only while nobody is connected to it.
        db.engine.dispose()
    yield app.config["SQLALCHEMY_DATABASE_URI"]
    databases.drop_template()


@pytest.fixture(autouse=True)
def _drop_test_databases() -> Iterator[None]:
    """On PostgreSQL, drop the databases a test made once it is over (SQLite's go with tmp)."""
    yield
    if databases.ON_POSTGRES:
        databases.drop_made()


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """Start every test with no rate-limit counts, as its new app does with memory://.

    On a shared Redis (make test-postgres) the counts would carry over from earlier tests, and
    Flask-Limiter keeps the first app's key prefix for all later ones, so the counters go.
    """
    uri = os.environ.get("CONTEST_RATELIMIT_STORAGE_URI", "")
    if uri.startswith("redis://"):
        import redis

        with redis.Redis.from_url(uri) as counters:
            counters.flushdb()


class _CompiledTemplates(BytecodeCache):
    """Compiled templates shared by every test app of the session, kept in memory.

    Each app has its own Jinja environment, which would otherwise parse and compile the same
    templates again for every test. Jinja checks each entry against the template's current
    source, so an edited template is compiled afresh.
    """

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        if (code := self.code.get(bucket.key)) is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


_compiled_templates = _CompiledTemplates()


_statement_caches: dict[str, tuple] = {}


def _share_compiled_statements(engine) -> None:
    """Let every test app's engine reuse the SQL that earlier tests' engines compiled.

    SQLAlchemy caches each statement's compiled form per engine, keyed by the engine's dialect
    object; every test builds a new engine on its own database copy, so each compiled the same
    statements again (a third of the judging and awards tests' time in one process: 27 s ->
    19 s). Engines of one backend share the first one's dialect and cache here; the settings
    that shape a dialect are the same for every test app. Test-only: a served app keeps one
    engine for its life. SQLAlchemy is pinned; a release that renames these attributes fails
    here, loudly.
    """
    first = _statement_caches.setdefault(
        engine.dialect.name, (engine.dialect, engine._compiled_cache)
    )
    engine.dialect, engine._compiled_cache = first


@pytest.fixture
def make_app(tmp_path, migrated_database, monkeypatch) -> Iterator[Callable[..., Flask]]:
    """Build an app on a fresh copy of the migrated database, with settings overridden."""
    # The job queue and anything else kept in the instance folder stay inside the test.
    monkeypatch.setenv("CONTEST_INSTANCE_PATH", str(tmp_path / "instance"))

    built: list[Flask] = []

    def build(**overrides) -> Flask:
        databases.copy_template(migrated_database, tmp_path)
        app = create_app(_config(tmp_path, pooled=True, **overrides))
        app.jinja_env.bytecode_cache = _compiled_templates
        with app.app_context():
            _share_compiled_statements(db.engine)
        built.append(app)
        return app

    yield build
    for app in built:  # close pooled connections now, not whenever the app is collected
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(make_app) -> Flask:
    app = make_app()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def upload_folder(app) -> Path:
    return Path(app.config["UPLOAD_FOLDER"])


def csrf_token(page: str) -> str:
    """The CSRF token a rendered form carries, to post it back the way a browser does."""
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def stored_files(folder: Path) -> list[str]:
    """Every file under the upload folder, temporary ones included."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def entry_form(media: bytes | None = None, filename: str = "photo.jpg", **fields) -> dict:
    """The fields of a valid entry, with a fresh photo unless one is given; override any field."""
    data = {
        "title": "코엑스의 아침",
        "description": "체험마당 입구에서 찍었습니다.",
        "name": "홍길동",
        "email": "Gildong.Hong@Example.com",
        "phone": "010-1234-5678",
        "consent": "y",
        "declaration": "y",
        "media": (io.BytesIO(photo_bytes() if media is None else media), filename),
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def submit(client) -> Callable:
    """Post an entry the way the plain HTML form does (or as JSON with json=True)."""

    def post(json: bool = False, **fields):
        headers = {"Accept": "application/json"} if json else {}
        return client.post(
            "/submit",
            data=entry_form(**fields),
            headers=headers,
            content_type="multipart/form-data",
        )

    return post


PASSWORD = "correct horse battery"


@pytest.fixture
def make_user(app) -> Callable:
    """Create a staff account: make_user("judge1") or make_user("boss", role="admin")."""
    from contest.services import accounts

    def create(username: str, role: str = "judge", password: str = PASSWORD):
        with app.app_context():
            user = accounts.create_user(username, role, password)
            db.session.commit()
            return user.id

    return create


@pytest.fixture
def login(client) -> Callable:
    """Sign the test client in as a user created with make_user."""

    def sign_in(username: str, password: str = PASSWORD):
        response = client.post("/login", data={"username": username, "password": password})
        assert response.status_code == 303, response.get_data(as_text=True)
        return response

    return sign_in


@pytest.fixture
def judge(make_user, login) -> int:
    """A signed-in judge; returns their user id."""
    user_id = make_user("judge-kim")
    login("judge-kim")
    return user_id


@pytest.fixture
def admin(make_user, login) -> int:
    """A signed-in admin; returns their user id."""
    user_id = make_user("organiser-lee", role="admin")
    login("organiser-lee")
    return user_id


@pytest.fixture
def make_entry(app) -> Callable:
    """Insert an entry straight into the database, with small real derivative files.

    Much faster than posting a photo: for tests about judging and admin pages, where the
    upload itself is not the point. The n-th entry of every test gets the same files, each
    drawn once per session (stored_photo). Returns the entry id.
    """
    import itertools

    from contest.models import Asset, Category, Entry, utcnow
    from contest.services.receipts import new_code
    from contest.storage import get_storage

    counter = itertools.count(1)

    def create(
        title: str | None = None, kind: str = "photo", status: str = "submitted", **fields
    ) -> int:
        n = next(counter)
        with app.app_context():
            category = db.session.scalars(select(Category).where(Category.kind == kind)).first()
            storage = get_storage()
            assets = []
            for role, size in (("preview", (160, 120)), ("thumbnail", (80, 60))):
                data = stored_photo(size, seed=n)
                key = storage.new_key("derived", ".jpg")
                storage.put(data, key)
                assets.append(
                    Asset(
                        role=role,
                        key=key,
                        content_type="image/jpeg",
                        size=len(data),
                        width=size[0],
                        height=size[1],
                    )
                )
            key = storage.new_key("originals", ".jpg")
            original = stored_photo((1200, 900), seed=n)
            storage.put(original, key)
            assets.append(
                Asset(
                    role="original",
                    key=key,
                    content_type="image/jpeg",
                    size=len(original),
                    width=1200,
                    height=900,
                )
            )
            now = utcnow()
            values = {
                "contest_id": category.contest_id,
                "category_id": category.id,
                "receipt": new_code(),
                "status": status,
                "title": title or f"작품 {n}",
                "description": f"설명 {n}",
                "entrant_name": f"응모자{n}",
                "email": f"entrant{n}@example.com",
                "phone": f"+82101234{n:04d}",
                "consent_version": "test",
                "consented_at": now,
                "media_format": "JPEG",
                "width": 1200,
                "height": 900,
                "file_size": len(original),
                "sha256": f"{n:064x}",
                "original_filename": f"private-name-{n}.jpg",
                "assets": assets,
            }
            if kind == "video":
                values |= {
                    "video_codec": "h264",
                    "duration": 12.0,
                    "playback_status": "pending",
                    "media_format": "mp4",
                }
            entry = Entry(**(values | fields))
            db.session.add(entry)
            db.session.commit()
            return entry.id

    return create
