"""Friendly error pages in Korean, or JSON for callers that asked for it; never a bare 500.

Refusals (`core.refusal.Refusal`) are answered here too: a view that re-renders its form puts
the message next to the field with `show_on_form`; any refusal a view lets through becomes the
error page, or JSON `{"errors": {field: [message]}}`, with the refusal's status.
"""

from __future__ import annotations

import errno

from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from contest.core.extensions import db
from contest.core.formatting import file_size
from contest.core.refusal import Refusal
from contest.core.responses import wants_json
from contest.core.uploads import NamedTooLarge, TooLarge
from contest.storage import StorageUnavailable

_MESSAGES = {
    400: _l("요청을 처리할 수 없습니다. 페이지를 새로 고친 뒤 다시 시도해 주세요."),
    403: _l("이 페이지를 볼 수 있는 권한이 없습니다."),
    404: _l("찾는 페이지가 없습니다. 주소나 접수번호를 다시 확인해 주세요."),
    405: _l("이 주소에서는 할 수 없는 요청입니다."),
    410: _l(
        "이 접수번호의 응모는 취소되어 작품과 개인정보가 모두 삭제되었습니다."
        " 다시 응모하시려면 처음부터 응모해 주세요."
    ),
    429: _l("요청이 너무 많습니다. 잠시 뒤에 다시 시도해 주세요."),
    500: _l("서버에 문제가 생겼습니다. 잠시 후 다시 시도해 주세요. 응모하신 작품은 안전합니다."),
    503: _l("파일 저장소에 잠시 연결할 수 없습니다. 잠시 뒤에 다시 시도해 주세요."),
    507: _l(
        "서버의 저장 공간이 부족해 파일을 받지 못했습니다."
        " 응모가 접수되지 않았으니 잠시 뒤에 다시 보내 주세요."
    ),
}
# A full disk (or quota): what was being received is lost, and the visitor must be told so.
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
_CSRF = _l(
    "페이지를 연 지 오래되었거나 보안 확인에 실패했습니다."
    " 페이지를 새로 고친 뒤 다시 제출해 주세요."
)


def _too_large(error: HTTPException) -> tuple[str, str]:
    """What was too large, named, and the field it belongs to (see `core.uploads`)."""
    config = current_app.config
    limit = getattr(error, "limit", None)
    if limit is TooLarge.PARTS:
        message = _(
            "보낸 입력 항목이 너무 많습니다: 한 번에 %(limit)s개까지 보낼 수 있습니다.",
            limit=config["MAX_FORM_PARTS"],
        )
        return message, "_form"
    if limit is TooLarge.FIELD:
        message = _(
            "입력한 글이 너무 깁니다: 한 칸에 %(limit)s까지 쓸 수 있습니다.",
            limit=file_size(config["MAX_FORM_MEMORY_SIZE"]),
        )
        return message, error.field or "_form"
    sent = getattr(error, "sent", None)
    message = _(
        "파일이 너무 큽니다: 사진은 %(photo)s, 영상은 %(video)s까지 올릴 수 있습니다.",
        photo=file_size(config["PHOTO_MAX_BYTES"]),
        video=file_size(config["VIDEO_MAX_BYTES"]),
    )
    if sent:
        message += " " + _("(보낸 크기 %(size)s)", size=file_size(sent))
    return message, "media"


def _answer(status: int, message: object, field: str = "_form"):
    if wants_json():
        # str(): a lazy message becomes text in the visitor's language (JSON cannot hold it).
        return jsonify(errors={field: [str(message)]}), status
    template = f"errors/{status}.html" if status in (404, 410, 413) else "errors/error.html"
    return render_template(template, status=status, message=message, field=field), status


def handle_csrf(error: CSRFError):
    """A missing or stale CSRF token: a friendly 400 that says what to do."""
    return _answer(400, _CSRF, "csrf_token")


def handle_http(error: HTTPException):
    """Any HTTP error raised by a view or by Werkzeug."""
    status = error.code or 500
    if status == 413:
        return _answer(413, *_too_large(error))
    if status < 400 or error.response is not None:
        return error
    return _answer(status, _MESSAGES.get(status, error.description or _MESSAGES[400]))


def show_on_form(form, refusal: Refusal) -> None:
    """Put a refusal's message next to its field of a WTForms form, or above the form."""
    if refusal.field and refusal.field in form:
        field = form[refusal.field]
        field.errors = [*field.errors, refusal.message]
    else:
        form.form_errors.append(refusal.message)


def handle_refusal(refusal: Refusal):
    """A refusal no view turned into a form error: undo the request's writes and say why."""
    db.session.rollback()
    return _answer(refusal.status, refusal.message, refusal.field or "_form")


def handle_storage_unavailable(error: StorageUnavailable):
    """The object store is down: say so with a 503, which tells clients to try again."""
    db.session.rollback()
    current_app.logger.error("storage unavailable: %s", error)
    return _answer(503, _MESSAGES[503])


def handle_os_error(error: OSError):
    """A full disk while receiving or storing an upload: 507, "not received", never "safe"."""
    if error.errno not in _DISK_FULL:
        return handle_unexpected(error)
    db.session.rollback()
    current_app.logger.error("disk full, a request was refused: %s", error)
    return _answer(507, _MESSAGES[507], "media")


def handle_unexpected(error: Exception):
    """A bug: undo the request's database work and apologise instead of showing a trace."""
    if current_app.testing:
        raise error  # let the test show the traceback
    db.session.rollback()
    current_app.logger.exception("unhandled error", exc_info=error)
    return _answer(500, _MESSAGES[500])


# nginx in front (`make run`) refuses a body over the limit before the app could read it, and
# asks here instead (a GET, without the body), passing the length the request announced: the
# visitor still gets the app's message, in their language, or JSON for the upload script.
TOO_LARGE_PATH = "/errors/too-large"
SENT_LENGTH_HEADER = "X-Contest-Sent-Length"


def answer_too_large_for_proxy():
    """The 413 of a request nginx refused as too large, as the app itself would answer it."""
    sent = request.headers.get(SENT_LENGTH_HEADER, type=int)
    return _answer(413, *_too_large(NamedTooLarge(TooLarge.REQUEST, sent)))


def init_app(app: Flask) -> None:
    """Register the handlers, and the page nginx shows for a body over the limit."""
    app.add_url_rule(TOO_LARGE_PATH, "too_large", answer_too_large_for_proxy)
    app.register_error_handler(CSRFError, handle_csrf)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(Refusal, handle_refusal)
    app.register_error_handler(OSError, handle_os_error)
    app.register_error_handler(StorageUnavailable, handle_storage_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
