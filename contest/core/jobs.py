"""Background jobs on huey: a SQLite queue by default, Redis when the site spans machines.

The web app only enqueues; `flask --app wsgi worker` runs the jobs, each inside an app context.
A job owns its transactions as a view does: the services it calls only flush. With TESTING on
(or HUEY_IMMEDIATE), huey runs a job at the moment it is enqueued, so tests are deterministic
without a worker.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, request
from huey import Huey, RedisHuey, SqliteHuey, crontab

from contest.core import mail
from contest.core.database import write_transaction
from contest.core.extensions import db
from contest.core.formatting import SEOUL
from contest.core.responses import external_url
from contest.models import Contest, Entry, Round, utcnow
from contest.services import (
    awards,
    entries,
    playback,
    schedule,
    upload_checks,
    uploads_in_flight,
    zoom,
)
from contest.services.contests import find_current_contest, public_url
from contest.services.rounds import active_round


def init_app(app: Flask) -> None:
    """Create the app's queue and register its tasks on it."""
    config = app.config
    immediate = config["HUEY_IMMEDIATE"]
    if immediate is None:
        immediate = bool(config.get("TESTING"))
    url, name = config.get("HUEY_URL"), config["HUEY_NAME"]
    if url:
        huey: Huey = RedisHuey(name, url=url, immediate=immediate)
    else:
        path = Path(app.instance_path) / "jobs.db"
        huey = SqliteHuey(name, filename=str(path), immediate=immediate)

    @huey.task(name="make_playback")
    def make_playback_task(entry_id: int) -> None:
        with app.app_context():
            make_playback_copy(entry_id)

    @huey.task(name="record_zoom_copy")
    def record_zoom_copy_task(
        entry_id: int, key: str, content_type: str, size: int, width: int, height: int
    ) -> None:
        with app.app_context(), write_transaction():
            zoom.record_copy(entry_id, key, content_type, size, width, height)

    @huey.task(name="check_upload")
    def check_upload_task(upload_id: str) -> None:
        with app.app_context():
            check_upload(upload_id)

    # Mail is retried: the SMTP server may be down for a while, and the entry never waits on it.
    retrying = {"retries": config["MAIL_RETRIES"], "retry_delay": config["MAIL_RETRY_DELAY"]}

    @huey.task(name="mail_receipt", **retrying)
    def mail_receipt_task(entry_id: int, base_url: str) -> None:
        with app.test_request_context(base_url=base_url):
            mail_receipt(entry_id)

    @huey.task(name="mail_receipt_links", **retrying)
    def mail_receipt_links_task(contact: str, language: str, base_url: str) -> None:
        with app.test_request_context(base_url=base_url):
            mail_receipt_links(contact, language)

    @huey.task(name="mail_winners", **retrying)
    def mail_winners_task(contest_id: int, base_url: str) -> None:
        with app.test_request_context(base_url=base_url):
            mail_winners(contest_id)

    # Resumable uploads nobody finished (or submitted) within UPLOAD_EXPIRY: every 15 minutes.
    @huey.periodic_task(crontab(minute="*/15"), name="remove_expired_uploads")
    def remove_expired_uploads_task() -> None:
        with app.app_context():
            remove_expired_uploads()

    # Judges behind schedule: looked at every hour, each mailed at most once a (Seoul) day.
    @huey.periodic_task(crontab(minute="5"), name="remind_judges_behind")
    def remind_judges_behind_task() -> None:
        with app.app_context():  # links go to PUBLIC_URL: no request to take a host from
            remind_judges_behind()

    app.extensions["contest.huey"] = huey
    app.extensions["contest.tasks"] = {
        "make_playback": make_playback_task,
        "record_zoom_copy": record_zoom_copy_task,
        "check_upload": check_upload_task,
        "mail_receipt": mail_receipt_task,
        "mail_receipt_links": mail_receipt_links_task,
        "mail_winners": mail_winners_task,
        "remove_expired_uploads": remove_expired_uploads_task,
        "remind_judges_behind": remind_judges_behind_task,
    }


def queue() -> Huey:
    """The current app's huey instance (the worker command runs its consumer)."""
    return current_app.extensions["contest.huey"]


def enqueue_playback(entry_id: int) -> None:
    """Ask for the browser-playable copy of a video entry (after its row has committed)."""
    current_app.extensions["contest.tasks"]["make_playback"](entry_id)


def start_entry_jobs(entry_id: int, playback_status: str | None) -> None:
    """Queue what a just-committed entry still needs (a video's playback copy).

    The entry is accepted by then: a queue that cannot be reached (Redis down) must not turn
    that into an error page. The copy is recorded as failed instead, which `doctor` reports
    and `doctor --repair` queues again.
    """
    if playback_status != "pending":
        return
    try:
        enqueue_playback(entry_id)
    except Exception as error:  # noqa: BLE001 - whatever the queue's client raises
        current_app.logger.exception("could not queue the playback copy of entry %s", entry_id)
        with write_transaction():
            playback.record_failure(entry_id, f"not queued: {type(error).__name__}: {error}")


def enqueue_zoom_copy(copy: zoom.ZoomCopy) -> None:
    """Have a worker record a zoom copy a judge's request made and stored.

    If the queue cannot be reached the copy stays unrecorded: `doctor --repair` removes the
    file, and the next judge to zoom makes another.
    """
    try:
        current_app.extensions["contest.tasks"]["record_zoom_copy"](
            copy.entry_id, copy.key, copy.content_type, len(copy.data), copy.width, copy.height
        )
    except Exception:  # noqa: BLE001 - whatever the queue's client raises
        current_app.logger.exception("could not queue the zoom copy of entry %s", copy.entry_id)


def start_upload_check(upload_id: str) -> None:
    """Check a resumable upload whose last byte just arrived, in the background, so that
    submit finds the verdict ready (`upload_checks`). Called after that byte's commit.

    A queue that cannot be reached only loses the head start: the state goes back to none and
    submit checks inline, as it always could.
    """
    with write_transaction():
        started = upload_checks.begin(upload_id)
    if not started:
        return
    try:
        current_app.extensions["contest.tasks"]["check_upload"](upload_id)
    except Exception:  # noqa: BLE001 - whatever the queue's client raises
        current_app.logger.exception("could not queue the check of upload %s", upload_id)
        with write_transaction():
            upload_checks.abandon(upload_id)


def check_upload(upload_id: str) -> None:
    """Run an upload's content checks and record the verdict; no transaction stays open
    while they run, and derivative files of a verdict that is not recorded are removed."""
    work = upload_checks.pending(upload_id)
    db.session.rollback()
    if work is None:
        return
    try:
        outcome = upload_checks.examine(work)
    except Exception:  # noqa: BLE001 - a failed check leaves submit to check inline
        current_app.logger.exception("the background check of upload %s failed", upload_id)
        outcome = None
    if outcome is None:
        with write_transaction():
            upload_checks.abandon(upload_id)
        return
    try:
        with write_transaction():
            recorded = upload_checks.record(outcome)
    except BaseException:
        upload_checks.discard(outcome)
        raise
    if not recorded:
        upload_checks.discard(outcome)


def make_playback_copy(entry_id: int) -> None:
    """Make and record a video's playback copy, or record why it could not be made."""
    original = playback.original_needing_copy(entry_id)
    db.session.rollback()  # no transaction stays open through minutes of transcoding
    if original is None:
        return
    try:
        key, size = playback.transcode(original)
    except Exception as error:  # noqa: BLE001 - any failure is recorded for the admins
        current_app.logger.warning("playback copy of entry %s failed: %s", entry_id, error)
        with write_transaction():
            playback.record_failure(entry_id, f"{type(error).__name__}: {error}")
        return
    with write_transaction():
        playback.record_success(entry_id, key, size)


# E-mail. The view enqueues after its commit; the job looks the rows up again, writes the
# message in the entrant's language and sends it. Links go to PUBLIC_URL (the contest's, else
# the setting's); without one, to the host the request that asked for the mail came to (the
# job runs in a request context on that address). Nothing personal is logged: entry ids only.


def enqueue_mail(name: str, *args) -> None:
    """Queue a mail job, when mail is on; a queue that cannot be reached is only logged.

    Called after the view's commit: the entry or the results stand whatever happens here.
    """
    if not mail.enabled():
        current_app.logger.info("mail is off: %s not sent", name)
        return
    try:
        current_app.extensions["contest.tasks"][name](*args, request.host_url)
    except Exception:  # noqa: BLE001 - whatever the queue's client raises
        current_app.logger.exception("could not queue the mail job %s", name)


def mail_receipt(entry_id: int) -> None:
    """The entrant's receipt: the code and the link, in the language of the form they used."""
    entry = db.session.get(Entry, entry_id)
    if entry is None or entry.personal_data_purged_at is not None:
        db.session.rollback()
        return  # withdrawn or erased meanwhile: nothing to send, nowhere to send it
    message = mail.compose(
        entry.email,
        entry.language,
        "receipt",
        contest=entry.contest,
        entry=entry,
        link=_receipt_link(entry),
    )
    db.session.rollback()
    mail.send([message])
    current_app.logger.info("receipt mail sent for entry %s", entry_id)


def mail_receipt_links(contact: str, language: str) -> None:
    """Receipt links for an e-mail address or phone number (normalised), sent to the e-mail
    address of each entry found, each address only with its own entries; nothing if none."""
    contest = find_current_contest()
    found = entries.by_contact(contest, contact) if contest is not None else []
    by_address: dict[str, list[Entry]] = {}
    for entry in found:
        by_address.setdefault(entry.email, []).append(entry)
    messages = [
        mail.compose(
            address,
            language,
            "receipt_links",
            contest=contest,
            found=[(entry, _receipt_link(entry)) for entry in held],
        )
        for address, held in by_address.items()
    ]
    db.session.rollback()
    if messages:
        mail.send(messages)
    current_app.logger.info("receipt links asked for: %s mail(s) sent", len(messages))


def mail_winners(contest_id: int) -> None:
    """Tell each published winner, once: a winner already told is never told again, even
    when the results are unpublished and published again. Failed ones are retried."""
    with write_transaction():
        contest = db.session.get(Contest, contest_id)
        claimed = awards.claim_winner_mails(contest, utcnow()) if contest else []
    failed = 0
    for entry_id in claimed:
        try:
            mail.send([_winner_message(entry_id)])
        except Exception:  # noqa: BLE001 - the claim goes back whatever went wrong
            current_app.logger.exception("winner mail for entry %s not sent", entry_id)
            failed += 1
            with write_transaction():
                awards.release_winner_mail(entry_id)
            continue
        current_app.logger.info("winner mail sent for entry %s", entry_id)
    if failed:
        raise mail.MailNotSent(f"{failed} winner mail(s) not sent")


def _winner_message(entry_id: int):
    entry = db.session.get(Entry, entry_id)
    award = awards.award_of(entry)
    message = mail.compose(
        entry.email,
        entry.language,
        "winner",
        contest=entry.contest,
        entry=entry,
        tier=awards.tier_of(award.tier, entry.category) if award else None,
        link=_receipt_link(entry),
        winners_link=external_url(public_url(entry.contest), "winners.show_winners"),
    )
    db.session.rollback()
    return message


def _receipt_link(entry: Entry) -> str:
    return external_url(public_url(entry.contest), "submit.show_receipt", code=entry.receipt)


def remove_expired_uploads() -> int:
    """Remove the resumable uploads older than UPLOAD_EXPIRY: rows, then (committed) files."""
    with write_transaction():
        paths = uploads_in_flight.remove_expired(utcnow(), current_app.config["UPLOAD_EXPIRY"])
    for path in paths:
        uploads_in_flight.remove_file(path)
    return len(paths)


def remind_judges_behind() -> int:
    """Mail each judge behind schedule (`services/schedule.py`) a link to their queue, at most
    once a Seoul day however many workers run this: the day's claim is a row, taken under the
    write lock before sending and given back if the mail fails. Returns the mails sent."""
    if not mail.enabled():
        return 0
    contest = find_current_contest()
    if contest is None or public_url(contest) is None:
        # The link must reach the judges' queue from anywhere: no guessed host.
        current_app.logger.warning("no PUBLIC_URL: reminders to judges not sent")
        db.session.rollback()
        return 0
    now = utcnow()
    day = now.astimezone(SEOUL).date()
    with write_transaction():
        round_ = active_round(contest)
        claimed = schedule.claim_reminders(round_, now, day)
    sent = 0
    for behind in claimed:
        try:
            mail.send([_reminder(contest, round_, behind)])
        except Exception:  # noqa: BLE001 - the claim goes back whatever went wrong
            current_app.logger.exception("reminder for judge %s not sent", behind.judge_id)
            with write_transaction():
                schedule.release_reminder(behind.judge_id, day)
            continue
        sent += 1
        current_app.logger.info("reminder sent to judge %s", behind.judge_id)
    return sent


def _reminder(contest: Contest, round_: Round, behind: schedule.Behind):
    """The reminder for one judge: what they have left, and the link to their queue."""
    base = public_url(contest)
    with current_app.test_request_context(base_url=base):  # url_for needs a request's host
        message = mail.compose(
            behind.email,
            "ko",  # the organisers' and the jury's working language
            "judge_reminder",
            contest=contest,
            round=round_,
            name=behind.name,
            remaining=behind.remaining,
            link=external_url(base, "judge.show_next"),
        )
    db.session.rollback()
    return message
