"""The contest app: `create_app` builds it from settings and wires the parts together.

Where each part lives is in the README's code map: views by audience (`public`, `auth`,
`judge`, `admin`), the domain in `services`, plumbing in `core`, files in `storage` and `media`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: defaults, then CONTEST_* environment variables, then `test_config`."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("CONTEST_INSTANCE_PATH") or str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
    )
    app.config.from_object("contest.config")
    app.config.from_prefixed_env("CONTEST")
    if test_config:
        app.config.from_mapping(test_config)
    _fill_in_defaults(app)

    from contest import admin, cli, storage
    from contest.auth import views as auth
    from contest.core import (
        arguments,
        database,
        errors,
        file_transactions,
        formatting,
        i18n,
        jobs,
        mail,
        security,
    )
    from contest.core.extensions import db, migrate
    from contest.core.uploads import UploadRequest
    from contest.judge import views as judge
    from contest.public import gallery, language, media, submit, tus, upload_check, wall, winners
    from contest.services import queue_counts

    app.request_class = UploadRequest
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    security.csrf.init_app(app)
    security.init_app(app)
    arguments.init_app(app)
    database.init_app(app)
    queue_counts.init_app(app)
    storage.init_app(app)
    file_transactions.init_app(app)
    jobs.init_app(app)
    mail.log_state(app)
    formatting.init_app(app)
    i18n.init_app(app)
    errors.init_app(app)
    cli.init_app(app)
    for blueprint in (
        submit.bp,
        tus.bp,
        upload_check.bp,
        media.bp,
        language.bp,
        auth.bp,
        judge.bp,
        admin.bp,
        winners.bp,
        gallery.bp,
        wall.bp,
    ):
        app.register_blueprint(blueprint)
    return app


def _fill_in_defaults(app: Flask) -> None:
    """Settings whose default depends on where the app runs, or on other settings."""
    config = app.config
    Path(app.instance_path).mkdir(mode=0o700, parents=True, exist_ok=True)
    if not config.get("SQLALCHEMY_DATABASE_URI"):
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{Path(app.instance_path) / 'contest.db'}"
    if not config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # A database server may restart or fail over under a running site: test each pooled
        # connection before use rather than answer one visitor per dead connection with a 500.
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True} | config[
            "SQLALCHEMY_ENGINE_OPTIONS"
        ]
    # from_prefixed_env hands over a str; paths are used as Path everywhere else.
    config["UPLOAD_FOLDER"] = Path(config.get("UPLOAD_FOLDER") or PROJECT_ROOT / "uploads")
    if not config.get("MAX_CONTENT_LENGTH"):
        # The biggest file we take, plus room for the text fields and the multipart framing.
        biggest = max(config["PHOTO_MAX_BYTES"], config["VIDEO_MAX_BYTES"])
        config["MAX_CONTENT_LENGTH"] = biggest + 1024 * 1024
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _instance_secret_key(Path(app.instance_path) / "secret_key")


def _instance_secret_key(path: Path) -> str:
    """The key kept in the instance folder, created (mode 0600) on the first start.

    Several server workers may start at once: the key is written to a private temporary file
    and linked into place, so exactly one key wins and every worker reads that one.
    """
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another worker won the race; use its key
        finally:
            tmp.unlink()
    return path.read_text().strip()
