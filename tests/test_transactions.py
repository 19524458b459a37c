"""One transaction owner: `begin_write` never commits someone else's work, and a refusal
raised inside `write_transaction` leaves neither a row nor a file behind."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from contest.core.database import begin_write, write_transaction
from contest.core.extensions import db
from contest.core.file_transactions import remove_unless_committed
from contest.core.refusal import Refusal
from contest.models import AuditLog
from contest.services.audit import audit
from contest.storage import get_storage


def _audit_rows() -> int:
    return db.session.scalar(select(func.count(AuditLog.id)))


def test_begin_write_refuses_to_end_a_transaction_that_wrote(app):
    with app.app_context():
        before = _audit_rows()
        audit(None, "test-unfinished", "x:1", None, None)
        db.session.flush()
        with pytest.raises(RuntimeError):
            begin_write()
        db.session.rollback()
        assert _audit_rows() == before  # nothing of the caller's work was committed


def test_begin_write_refuses_to_drop_a_pending_file_clean_up(app):
    with app.app_context():
        storage = get_storage()
        key = storage.new_key("derived", ".jpg")
        storage.put(b"half-made", key)
        remove_unless_committed([key])  # nothing written to the database, yet work is pending
        with pytest.raises(RuntimeError):
            begin_write()
        db.session.rollback()
        assert not storage.exists(key)  # the clean-up ran, as the transaction's owner asked


def test_begin_write_ends_a_read_only_transaction(app):
    with app.app_context():
        _audit_rows()  # a read opens a transaction
        begin_write()  # and this is allowed to end it
        audit(None, "test-write", "x:2", None, None)
        db.session.commit()
        assert db.session.scalar(select(AuditLog.action).order_by(AuditLog.id.desc())) == (
            "test-write"
        )


def test_a_refusal_inside_write_transaction_leaves_no_row_and_no_file(app):
    with app.app_context():
        storage = get_storage()
        before = _audit_rows()
        key = storage.new_key("derived", ".jpg")
        with pytest.raises(Refusal):
            with write_transaction():
                storage.put(b"made for a change that is refused", key)
                remove_unless_committed([key])
                audit(None, "test-refused", "x:3", None, None)
                raise Refusal("no")
        assert _audit_rows() == before
        assert not storage.exists(key)
