"""Admin pages for moderation: the entry list, an entry in detail, reject and restore, flags."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from contest.admin import bp
from contest.core.arguments import page_arg
from contest.core.database import write_transaction
from contest.core.errors import show_on_form
from contest.core.extensions import db
from contest.core.fields import strip_whitespace
from contest.core.i18n import translate_name
from contest.core.refusal import Refusal
from contest.core.responses import safe_next
from contest.core.stored_files import send_stored
from contest.models import Entry, Flag, User
from contest.services import moderation, ranking
from contest.services.contests import current_contest
from contest.services.flags import KIND_LABELS, local_capture_time
from contest.services.moderation import REASON_MAX, EntryFilter

PER_PAGE = 50
STATUS_LABELS = {"submitted": _l("접수"), "rejected": _l("반려")}


class EntryFilterForm(FlaskForm):
    """The entry list's filters, read from the query string (a GET: no CSRF token)."""

    class Meta:
        csrf = False

    status = SelectField(
        _l("상태"),
        choices=[SelectChoice("", _l("모든 상태"))]
        + [SelectChoice(k, v) for k, v in STATUS_LABELS.items()],
        default="",
    )
    category = SelectField(_l("부문"), default="")
    flag = SelectField(
        _l("표시"),
        choices=[SelectChoice("", _l("모두")), SelectChoice("any", _l("표시가 있는 작품"))]
        + [SelectChoice(k, v) for k, v in KIND_LABELS.items()],
        default="",
    )
    q = StringField(
        _l("검색 (제목·설명·접수번호·응모자 이름·이메일·전화번호)"),
        filters=[strip_whitespace],
        validators=[Optional(), Length(max=100, message=_l("검색어는 100자 이내로 써 주세요."))],
    )


class RejectForm(FlaskForm):
    """Reject an entry: the reason is shown to its entrant on the receipt page."""

    reason = TextAreaField(
        _l("반려 사유 (응모자의 접수 확인 화면에 보입니다)"),
        filters=[strip_whitespace],
        validators=[
            DataRequired(message=_l("반려 사유를 입력해 주세요.")),
            Length(
                max=REASON_MAX, message=_l("사유는 %(limit)s자 이내로 써 주세요.", limit=REASON_MAX)
            ),
        ],
    )
    next = HiddenField()


class WithdrawEntryForm(FlaskForm):
    """Withdraw an entry for its entrant: deletes it and its files, with a reason for the log."""

    reason = StringField(
        _l("취소 사유 (감사 기록에 남습니다)"),
        filters=[strip_whitespace],
        validators=[
            DataRequired(message=_l("취소 사유를 입력해 주세요.")),
            Length(
                max=REASON_MAX, message=_l("사유는 %(limit)s자 이내로 써 주세요.", limit=REASON_MAX)
            ),
        ],
    )


class RestoreForm(FlaskForm):
    """Put a rejected entry back into judging."""

    next = HiddenField()


class DismissForm(FlaskForm):
    """Dismiss a flag after looking: why it is not a problem."""

    reason = StringField(
        _l("확인 사유"),
        filters=[strip_whitespace],
        validators=[
            DataRequired(message=_l("확인 사유를 입력해 주세요.")),
            Length(
                max=REASON_MAX, message=_l("사유는 %(limit)s자 이내로 써 주세요.", limit=REASON_MAX)
            ),
        ],
    )
    next = HiddenField()


@bp.get("/entries")
def list_entries():
    """Every entry with its thumbnail, status and open flags; filtered and paginated."""
    contest = current_contest()
    form = EntryFilterForm(formdata=request.args)
    form.category.choices = [SelectChoice("", _("모든 부문"))] + [
        SelectChoice(c.slug, translate_name(c.name)) for c in contest.categories
    ]
    if not form.validate():
        return _render_list(form, None, {}, 400)
    category = next((c for c in contest.categories if c.slug == form.category.data), None)
    wanted = EntryFilter(
        status=form.status.data,
        category_id=category.id if category else None,
        flag=form.flag.data,
        q=form.q.data or "",
    )
    page = db.paginate(
        moderation.entries_query(contest, wanted),
        page=page_arg(),
        per_page=PER_PAGE,
        max_per_page=PER_PAGE,
    )
    flags = moderation.open_flags_by_entry([entry.id for entry in page.items])
    return _render_list(form, page, flags)


@bp.get("/entries/<int:entry_id>")
def show_entry(entry_id: int):
    """One entry in detail: media, metadata, entrant, flags, and the reject or restore form."""
    return _entry_page(db.get_or_404(Entry, entry_id))


@bp.get("/entries/<int:entry_id>/original")
def download_original(entry_id: int):
    """The untouched original, as a download only: it may be hostile bytes a browser would run."""
    entry = db.get_or_404(Entry, entry_id)
    original = entry.asset("original")
    if original is None:
        abort(404)
    extension = original.key.rsplit(".", 1)[-1]
    response = send_stored(
        original.key,
        mimetype="application/octet-stream",
        download_name=f"{entry.receipt}.{extension}",
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/entries/<int:entry_id>/reject")
def reject_entry(entry_id: int):
    """Take an entry out of every judging queue, with a reason its entrant will see."""
    entry = db.get_or_404(Entry, entry_id)
    form = RejectForm()
    if not form.validate_on_submit():
        return _entry_page(entry, reject_form=form, status=400)
    try:
        with write_transaction():
            moderation.reject(entry, form.reason.data, g.user)
    except Refusal as why:
        show_on_form(form, why)
        return _entry_page(entry, reject_form=form, status=why.status)
    flash(_("작품을 반려했습니다. 모든 심사 대상에서 빠졌습니다."), "success")
    return redirect(_back(form, entry), 303)


@bp.post("/entries/<int:entry_id>/restore")
def restore_entry(entry_id: int):
    """Put a rejected entry back into judging; its reason is cleared."""
    entry = db.get_or_404(Entry, entry_id)
    form = RestoreForm()
    if not form.validate_on_submit():
        return _entry_page(entry, restore_form=form, status=400)
    try:
        with write_transaction():
            moderation.restore(entry, g.user)
    except Refusal as why:
        show_on_form(form, why)
        return _entry_page(entry, restore_form=form, status=why.status)
    flash(_("작품을 다시 심사 대상에 넣었습니다."), "success")
    return redirect(_back(form, entry), 303)


@bp.post("/entries/<int:entry_id>/withdraw")
def withdraw_entry(entry_id: int):
    """Withdraw an entry for its entrant, with a reason; refused for a published winner."""
    entry = db.get_or_404(Entry, entry_id)
    form = WithdrawEntryForm(prefix="withdraw")
    if not form.validate_on_submit():
        return _entry_page(entry, withdraw_form=form, status=400)
    try:
        with write_transaction():
            moderation.withdraw(entry, form.reason.data, g.user)
    except Refusal as why:
        show_on_form(form, why)
        return _entry_page(entry, withdraw_form=form, status=why.status)
    flash(_("응모를 취소했습니다. 작품과 개인정보를 모두 삭제했습니다."), "success")
    return redirect(url_for("admin.list_entries"), 303)


@bp.get("/flags/<int:flag_id>")
def show_flag(flag_id: int):
    """A flag with its entry; a near-duplicate beside the entry it resembles."""
    flag = db.get_or_404(Flag, flag_id)
    return _flag_page(flag, DismissForm(formdata=None))


@bp.post("/flags/<int:flag_id>/dismiss")
def dismiss_flag(flag_id: int):
    """Dismiss a flag with a reason: it stays on record, struck through and no longer counted."""
    flag = db.get_or_404(Flag, flag_id)
    form = DismissForm()
    if not form.validate_on_submit():
        return _flag_page(flag, form, 400)
    try:
        with write_transaction():
            moderation.dismiss_flag(flag, form.reason.data, g.user)
    except Refusal as why:
        show_on_form(form, why)
        return _flag_page(flag, form, why.status)
    flash(_("표시를 확인 처리했습니다."), "success")
    return redirect(_back(form, flag.entry), 303)


def _render_list(form: EntryFilterForm, page, flags: dict[int, list[Flag]], status: int = 200):
    # Only the filters in use go into the pager's links, so a page link is the same search.
    filters = {name: value for name, value in form.data.items() if value} if page else {}
    return render_template(
        "admin/entries.html",
        form=form,
        page=page,
        flags=flags,
        filters=filters,
        here=request.full_path.rstrip("?"),
        status_labels=STATUS_LABELS,
        kind_labels=KIND_LABELS,
    ), status


def _entry_page(
    entry: Entry,
    reject_form: RejectForm | None = None,
    restore_form: RestoreForm | None = None,
    status: int = 200,
    withdraw_form: WithdrawEntryForm | None = None,
):
    flags = moderation.flags_of(entry)
    return render_template(
        "admin/entries_detail.html",
        entry=entry,
        flags=flags,
        pointing=moderation.flags_pointing_at(entry),
        scores=ranking.scores_of_entry(entry.id),
        dismissers=_dismissers(flags),
        reject_form=reject_form or RejectForm(formdata=None),
        restore_form=restore_form or RestoreForm(formdata=None),
        withdraw_form=withdraw_form or WithdrawEntryForm(formdata=None, prefix="withdraw"),
        dismiss_form=DismissForm(formdata=None),
        here=_here(url_for("admin.show_entry", entry_id=entry.id)),
        back=safe_next(request.args.get("next")) or url_for("admin.list_entries"),
        capture_time=local_capture_time,
        status_labels=STATUS_LABELS,
        kind_labels=KIND_LABELS,
    ), status


def _flag_page(flag: Flag, form: DismissForm, status: int = 200):
    return render_template(
        "admin/flag.html",
        flag=flag,
        entries=[e for e in (flag.entry, flag.other_entry) if e is not None],
        dismissers=_dismissers([flag]),
        form=form,
        here=_here(url_for("admin.show_flag", flag_id=flag.id)),
        capture_time=local_capture_time,
        status_labels=STATUS_LABELS,
        kind_labels=KIND_LABELS,
    ), status


def _here(page: str) -> str:
    """Where this page's forms send the admin back to: this page as they opened it."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    return safe_next(request.form.get("next")) or page


def _back(form: FlaskForm, entry: Entry) -> str:
    return safe_next(form.next.data) or url_for("admin.show_entry", entry_id=entry.id)


def _dismissers(flags: list[Flag]) -> dict[int, User]:
    ids = {f.dismissed_by_id for f in flags if f.dismissed_by_id is not None}
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
