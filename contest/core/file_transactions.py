"""Files follow the database: an entry's files exist exactly when its row was committed.

A service that has put files in place for a new row calls `remove_unless_committed`; one that
deletes a row calls `delete_once_committed`. The session events below then act on the outcome
of the transaction, so a failed commit leaves no orphan file and a failed delete loses no file.
"""

from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from contest.core.database import PENDING_FILES_PREFIX
from contest.core.extensions import db
from contest.storage import Storage, StorageUnavailable, get_storage

_ON_ROLLBACK = f"{PENDING_FILES_PREFIX}remove_unless_committed"
_ON_COMMIT = f"{PENDING_FILES_PREFIX}delete_once_committed"


def remove_unless_committed(keys: list[str]) -> None:
    """Remove these stored files if the current transaction ends without committing."""
    _pending(_ON_ROLLBACK).extend((get_storage(), k) for k in keys)


def delete_once_committed(keys: list[str]) -> None:
    """Delete these stored files once the current transaction has committed, not before."""
    _pending(_ON_COMMIT).extend((get_storage(), k) for k in keys)


def _pending(kind: str) -> list[tuple[Storage, str]]:
    session = db.session()
    if not session.in_transaction():
        # The files belong to a transaction: start one, so its end (commit or rollback)
        # settles them, rather than whichever transaction happens to come next.
        session.begin()
    return session.info.setdefault(kind, [])


def _delete(pending: list[tuple[Storage, str]]) -> None:
    for storage, key in pending:
        try:
            storage.delete(key)
        except StorageUnavailable:
            # The transaction's outcome stands; the file is an orphan that `doctor --repair`
            # removes once the store is back.
            logging.getLogger(__name__).warning("could not delete %s: storage unavailable", key)


def _after_commit(session: Session) -> None:
    session.info.pop(_ON_ROLLBACK, None)
    _delete(session.info.pop(_ON_COMMIT, []))


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if (
        transaction.parent is not None
    ):  # a savepoint or subtransaction: the outcome is not known yet
        return
    # Reached without a commit (rolled back, or the session closed mid-transaction).
    session.info.pop(_ON_COMMIT, None)
    _delete(session.info.pop(_ON_ROLLBACK, []))


def init_app(app: Flask) -> None:
    """Listen to the app's sessions (once per process: the session class is shared)."""
    for name, listener in (
        ("after_commit", _after_commit),
        ("after_transaction_end", _after_transaction_end),
    ):
        if not event.contains(db.session, name, listener):
            event.listen(db.session, name, listener)
