"""The audit log: who changed what, old → new. Every service that changes the record calls it."""

from __future__ import annotations

from contest.core.extensions import db
from contest.models import AuditLog, User


def audit(actor: User | None, action: str, target: str, old, new) -> None:
    """Record an action in the audit log (the caller commits)."""
    db.session.add(
        AuditLog(
            user_id=actor.id if actor else None, action=action, target=target, old=old, new=new
        )
    )
