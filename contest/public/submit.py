"""The visitor's side: the landing page, the entry form, the receipt and withdrawing."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf
from wtforms import FieldList

from contest.core import jobs
from contest.core.database import write_transaction
from contest.core.errors import show_on_form
from contest.core.extensions import db, limiter
from contest.core.i18n import translatable
from contest.core.refusal import Refusal
from contest.core.responses import wants_json
from contest.core.security import recover_rate_limit, recover_target_rate_limit, submit_rate_limit
from contest.core.uploads import spooled_path
from contest.media import Rejected
from contest.models import Contest, Entry, Upload, utcnow
from contest.public import tus
from contest.public.forms import (
    EntrantForm,
    EntryForm,
    ReceiptLookupForm,
    RecoverForm,
    WithdrawForm,
    WorksForm,
    contact_key,
)
from contest.services import awards, entries, upload_checks, uploads_in_flight
from contest.services.contests import current_contest, entry_limit

bp = Blueprint("submit", __name__)

# The consent notice shows RETENTION_AFTER_RESULTS through `_()`: the default value is listed
# here only so that `pybabel extract -k translatable` finds it (config.py has no gettext).
_EXTRACT_ONLY = (translatable("결과 발표 후 1년"),)


@bp.get("/")
def show_landing():
    """The contest, its dates, prizes and rules, and the way in."""
    return _render_landing(ReceiptLookupForm(formdata=None))


@bp.get("/submit")
def show_form():
    """The entry form."""
    tus.ensure_owner()
    return _render_form(EntryForm(), current_contest())


@bp.get("/submit/token")
def issue_token():
    """A CSRF token for a kiosk or script that posts entries as JSON (docs/OPERATIONS.md).

    The token is bound to the session cookie this answer sets: send both back, the token in
    the `X-CSRFToken` header.
    """
    tus.ensure_owner()
    response = jsonify(csrf_token=generate_csrf())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/submit")
@limiter.limit(submit_rate_limit)
def create_entry():
    """Accept one entry from a visitor, or several works of one entrant (`works-N-...`)."""
    contest = current_contest()
    if any(key.startswith(WORKS_PREFIX) for key in request.form):
        return _create_entries(contest)
    form = EntryForm()
    if not form.validate_on_submit():
        return _form_failed(form, contest, 400)
    upload = None
    try:
        upload = _finished_upload(form)
        entry = entries.accept(_submission(form, upload), contest, utcnow())
    except Refusal as why:
        if isinstance(why, Rejected) and upload is not None:
            _give_up(upload)  # the file itself was refused: the visitor picks another
        show_on_form(form, why)
        return _form_failed(form, contest, why.status)
    done = uploads_in_flight.forget(upload) if upload is not None else None
    db.session.commit()
    if done is not None:
        uploads_in_flight.remove_file(done)  # adopted already: nothing left, unless a copy
    jobs.start_entry_jobs(entry.id, entry.playback_status)
    jobs.enqueue_mail("mail_receipt", entry.id)
    url = url_for("submit.show_receipt", code=entry.receipt)
    if wants_json():
        return jsonify(receipt=entry.receipt, url=url), 201
    return redirect(url, 303)


WORKS_PREFIX = "works-"
# The most receipt codes one receipts page lists (a visitor's works of one post, and more).
MAX_RECEIPTS_LISTED = 20


def _create_entries(contest: Contest):
    """Several works in one post, all or none: a refused work is named next to its fields and
    nothing is created; the finished uploads of the others stay for the next try."""
    form = WorksForm()
    if not form.validate_on_submit():
        return _works_failed(form, contest, 400)
    works = list(form.works)
    uploads: list[Upload] = []
    try:
        for index, work in enumerate(works):
            try:
                uploads.append(_finished_work_upload(work.form.upload.data))
            except Refusal as why:
                raise entries.RefusedWork(index, why) from None
        sent = [_work_submission(form, w.form, u) for w, u in zip(works, uploads, strict=True)]
        made = entries.accept_all(sent, contest, utcnow())
    except entries.RefusedWork as why:
        work = works[why.index].form
        if isinstance(why.cause, Rejected) and why.index < len(uploads):
            _give_up(uploads[why.index])  # the file itself was refused: the visitor picks another
        field = work.upload if why.field in (None, "media", "upload") else work[why.field]
        field.errors = [*field.errors, why.message]
        return _works_failed(form, contest, why.status)
    done = [uploads_in_flight.forget(upload) for upload in uploads]
    db.session.commit()
    for leftovers in done:
        uploads_in_flight.remove_file(leftovers)
    for entry in made:
        jobs.start_entry_jobs(entry.id, entry.playback_status)
        jobs.enqueue_mail("mail_receipt", entry.id)
    codes = [entry.receipt for entry in made]
    url = url_for("submit.show_receipts", codes=",".join(codes))
    if wants_json():
        return jsonify(receipts=codes, url=url), 201
    return redirect(url, 303)


def _finished_work_upload(upload_id: str) -> Upload:
    return uploads_in_flight.complete(
        upload_id, session.get(tus.OWNER), utcnow(), current_app.config["UPLOAD_EXPIRY"]
    )


def _work_submission(form: WorksForm, work, upload: Upload) -> entries.Submission:
    return entries.Submission(
        title=work.title.data,
        description=work.description.data or "",
        upload_path=uploads_in_flight.path_of(upload),
        filename=upload.filename,
        prepared=upload_checks.prepared(upload),
        **_entrant(form),
    )


def _entrant(form: EntryForm | WorksForm) -> dict:
    """The entrant's part of a submission, typed once for every work they send."""
    return {
        "name": form.name.data,
        "phone": form.phone.data,
        "email": form.email.data,
        "under14": form.under14.data,
        "guardian_name": form.guardian_name.data,
        "guardian_phone": form.guardian_phone.data,
        "consent_publish": form.consent_publish.data,
        "declared": form.declaration.data,
        "language": str(get_locale()),
    }


def _works_failed(form: WorksForm, contest: Contest, status: int):
    """JSON errors by field name (`works-0-title`...); without script, the entry form again
    with the entrant's fields as typed and each work's errors above it."""
    if wants_json():
        return jsonify(errors=_errors(form)), status
    page = EntryForm(formdata=None, data={k: f.data for k, f in form._fields.items()})
    for name, field in form._fields.items():
        if name in page and name != "csrf_token":
            page[name].errors = list(field.errors)
    for number, work in enumerate(form.works, start=1):
        for field in work.form:
            for error in field.errors:
                page.form_errors.append(
                    _("작품 %(number)s: %(message)s", number=number, message=str(error))
                )
    page.form_errors.extend(form.form_errors)
    return _render_form(page, contest, status)


@bp.get("/receipts/<codes>")
def show_receipts(codes: str):
    """The receipt of several works sent together: each entry with its code.

    Lists only the codes in the address, which the visitor holds (each opens its own receipt
    page too); a code that never was an entry makes the whole page a 404.
    """
    listed = [c for c in codes.split(",") if c][:MAX_RECEIPTS_LISTED]
    found: list[Entry] = []
    withdrawn: list[str] = []
    for code in listed:
        entry = entries.find_by_receipt(code)
        if entry is not None:
            found.append(entry)
        elif entries.was_withdrawn(code):
            withdrawn.append(code)
        else:
            abort(404)
    if not found:
        abort(410 if withdrawn else 404)
    return render_template("submit/receipts.html", entries=found, withdrawn=withdrawn)


@bp.get("/receipt")
def find_receipt():
    """Look an entry up by the code the visitor typed on the landing page.

    A code that finds nothing shows the landing page again with the code as typed and the
    error beside it; a withdrawn entry's code goes on to its receipt page, which says so (410).
    """
    form = ReceiptLookupForm(formdata=request.args)
    if not form.validate():
        return _render_landing(form, 400)
    typed = form.code.data
    entry = entries.find_by_receipt(typed)
    if entry is not None:
        return redirect(url_for("submit.show_receipt", code=entry.receipt), 303)
    if entries.was_withdrawn(typed):
        return redirect(url_for("submit.show_receipt", code=typed), 303)
    form.code.errors.append(_("접수번호를 찾을 수 없습니다. 받은 번호를 다시 확인해 주세요."))
    return _render_landing(form, 404)


@bp.get("/receipt/recover")
def show_recover():
    """Ask for one's receipt links by e-mail: type the e-mail address or phone number used."""
    return render_template("submit/recover.html", form=RecoverForm())


@bp.post("/receipt/recover")
@limiter.limit(recover_rate_limit)
@limiter.limit(recover_target_rate_limit, key_func=contact_key)
def recover_receipts():
    """Send the receipt links of the entries made with this contact to their e-mail addresses.

    The answer is the same whether anything matched or not, and the lookup happens in the job,
    so neither the page nor its timing tells who entered.
    """
    form = RecoverForm()
    if not form.validate_on_submit():
        return render_template("submit/recover.html", form=form), 400
    jobs.enqueue_mail("mail_receipt_links", form.contact.data, str(get_locale()))
    flash(
        _(
            "입력한 연락처로 응모한 작품이 있으면, 응모할 때 적은 이메일 주소로 접수번호와"
            " 확인 링크를 보냈습니다. 몇 분 안에 오지 않으면 스팸 편지함도 확인해 주세요."
        ),
        "success",
    )
    return redirect(url_for("submit.show_recover"), 303)


@bp.get("/receipt/<code>")
def show_receipt(code: str):
    """The visitor's receipt: their entry as the contest holds it (and its award, once out)."""
    entry = _entry_or_gone(code)
    return render_template(
        "submit/receipt.html",
        entry=entry,
        award=awards.published_tier_of(entry),
        form=WithdrawForm(),
    )


@bp.get("/receipt/<code>/status")
def show_receipt_status(code: str):
    """The state of the entry's playback copy, which the receipt page polls for a video."""
    entry = _entry_or_gone(code)
    response = jsonify(playback=entry.playback_status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/receipt/<code>/withdraw")
def confirm_withdraw(code: str):
    """Ask before withdrawing: it deletes the entry for good."""
    entry = _entry_or_gone(code)
    return render_template(
        "submit/withdraw.html",
        entry=entry,
        final=entries.is_published_winner(entry),
        form=WithdrawForm(),
    )


@bp.post("/receipt/<code>/withdraw")
def withdraw_entry(code: str):
    """Withdraw an entry: delete it and all its files (the entrant withdrew consent)."""
    if not WithdrawForm().validate_on_submit():
        abort(400)
    with write_transaction():
        entry = _entry_or_gone(code)
        entries.withdraw(entry)  # a published winner is refused (409) with whom to contact
    if wants_json():
        return jsonify(withdrawn=entry.receipt)
    flash(_("응모를 취소했습니다. 작품과 개인정보를 모두 삭제했습니다."), "success")
    return redirect(url_for("submit.show_landing"), 303)


def _finished_upload(form: EntryForm) -> Upload | None:
    """The resumable upload the form names, finished and this session's; None for a file."""
    if not form.upload.data:
        return None
    return uploads_in_flight.complete(
        form.upload.data, session.get(tus.OWNER), utcnow(), current_app.config["UPLOAD_EXPIRY"]
    )


def _give_up(upload: Upload) -> None:
    with write_transaction():
        leftovers = uploads_in_flight.forget(upload)
    uploads_in_flight.remove_file(leftovers)


def _submission(form: EntryForm, upload: Upload | None) -> entries.Submission:
    """The validated form as the plain values the entries service takes."""
    prepared = None
    if upload is not None:
        path, filename = uploads_in_flight.path_of(upload), upload.filename
        prepared = upload_checks.prepared(upload)  # the background check's work, if done
    else:
        path, filename = spooled_path(form.media.data), form.media.data.filename
    return entries.Submission(
        title=form.title.data,
        description=form.description.data or "",
        upload_path=path,
        filename=filename,
        prepared=prepared,
        **_entrant(form),
    )


def _entry_or_gone(code: str) -> Entry:
    """The entry with this code; 410 when it was withdrawn, 404 when there never was one."""
    entry = entries.find_by_receipt(code)
    if entry is None:
        abort(410 if entries.was_withdrawn(code) else 404)
    return entry


def _render_landing(lookup: ReceiptLookupForm, status: int = 200):
    contest = current_contest()
    page = render_template(
        "index.html",
        contest=contest,
        now=utcnow(),
        max_entries=entry_limit(contest),
        lookup=lookup,
    )
    return page, status


def _render_form(form: EntryForm, contest: Contest, status: int = 200):
    config = current_app.config
    page = render_template(
        "submit/form.html",
        form=form,
        contest=contest,
        now=utcnow(),
        max_bytes=config["PHOTO_MAX_BYTES"],
        max_video_bytes=config["VIDEO_MAX_BYTES"],
        max_video_minutes=config["VIDEO_MAX_SECONDS"] // 60,
        min_long_side=config["PHOTO_MIN_LONG_SIDE"],
        max_entries=entry_limit(contest),
        retention=config["RETENTION_AFTER_RESULTS"],
    )
    return page, status


def _form_failed(form: EntryForm, contest: Contest, status: int):
    if wants_json():
        return jsonify(errors=_errors(form)), status
    return _render_form(form, contest, status)


def _errors(form: EntrantForm) -> dict[str, list[str]]:
    """Field errors by field name (a work's as `works-0-title`); the whole form's under "_form".

    Messages may be lazy strings (form labels, media refusals): made text here, since JSON
    cannot hold them.
    """
    found = {}
    for name, field in form._fields.items():
        if isinstance(field, FieldList):
            for work in field:
                found.update({f.name: [str(e) for e in f.errors] for f in work.form if f.errors})
        elif field.errors:
            found[name] = [str(e) for e in field.errors]
    if form.form_errors:
        found["_form"] = [str(e) for e in form.form_errors]
    return found
