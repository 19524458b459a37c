"""Receipts that cannot be lost: e-mails on acceptance, on request and to winners, read back
from a real SMTP server on the loopback (aiosmtpd)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from contest.core import jobs
from contest.core.extensions import db
from contest.models import Award, Entry

PUBLIC = "https://contest.example.kr"
SENDER = "정부3.0 체험마당 <contest@example.kr>"


class _Inbox:
    """aiosmtpd's handler: keeps every message the server takes."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def inbox() -> Iterator[_Inbox]:
    """A real SMTP server on 127.0.0.1, collecting what it is sent."""
    handler = _Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


def _mail_settings(port: int, **more) -> dict:
    return {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": port,
        "MAIL_USE_TLS": False,
        "MAIL_FROM": SENDER,
        "PUBLIC_URL": PUBLIC,
        **more,
    }


@pytest.fixture
def app(make_app, inbox):
    """This module's app (and so its client, make_entry and make_user) sends to `inbox`."""
    return make_app(**_mail_settings(inbox.port))


def _text(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def _html(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def _post_entry(client, **fields):
    from .conftest import entry_form

    return client.post("/submit", data=entry_form(**fields), content_type="multipart/form-data")


def _entries(app) -> list[Entry]:
    with app.app_context():
        return list(db.session.scalars(select(Entry).order_by(Entry.id)))


def _receipt_link(entry: Entry) -> str:
    return f"{PUBLIC}/receipt/{entry.receipt}"


# On acceptance.


def test_an_accepted_entry_mails_its_receipt_in_korean(app, client, inbox):
    response = _post_entry(client)
    assert response.status_code == 303
    [entry] = _entries(app)
    [message] = inbox.messages
    assert message["To"] == "gildong.hong@example.com"
    assert message["X-Envelope-To"] == "gildong.hong@example.com"
    assert message["From"].addresses[0].addr_spec == "contest@example.kr"
    assert "응모가 접수되었습니다" in message["Subject"]
    assert entry.receipt_display in message["Subject"]
    body = _text(message)
    assert "홍길동님" in body and "코엑스의 아침" in body
    assert entry.receipt_display in body
    assert _receipt_link(entry) in body  # PUBLIC_URL, not the test client's localhost
    assert f'href="{_receipt_link(entry)}"' in _html(message)
    with app.app_context():
        assert db.session.get(Entry, entry.id).language == "ko"


def test_an_entry_made_on_the_english_form_gets_its_receipt_in_english(app, client, inbox):
    client.get("/language/en", query_string={"next": "/submit"})
    assert _post_entry(client).status_code == 303
    [entry] = _entries(app)
    [message] = inbox.messages
    assert message["Subject"].startswith("[")
    assert "received" in message["Subject"].lower()
    assert entry.receipt_display in message["Subject"]
    assert not any("\uac00" <= c <= "\ud7a3" for c in message["Subject"])
    assert _receipt_link(entry) in _text(message)
    assert entry.language == "en"


def test_without_a_mail_server_entries_are_taken_and_nothing_is_sent(make_app, inbox, caplog):
    app = make_app(PUBLIC_URL=PUBLIC)  # no MAIL_SERVER
    with caplog.at_level(logging.INFO):
        assert _post_entry(app.test_client()).status_code == 303
    assert len(_entries(app)) == 1
    assert inbox.messages == []
    assert "mail is off" in caplog.text
    assert "gildong" not in caplog.text.lower()


def test_with_the_mail_server_down_the_entry_stands_and_the_mail_is_retried(make_app, caplog):
    app = make_app(**_mail_settings(_free_port(), MAIL_RETRIES=3, MAIL_RETRY_DELAY=60))
    with caplog.at_level(logging.INFO):
        response = _post_entry(app.test_client())
    assert response.status_code == 303
    [entry] = _entries(app)
    assert response.headers["Location"] == f"/receipt/{entry.receipt}"
    with app.app_context():
        retry = jobs.queue().scheduled()  # the failed send waits for its retry
    assert [task.name for task in retry] == ["mail_receipt"]
    assert retry[0].retries == 2
    assert "gildong" not in caplog.text.lower() and "홍길동" not in caplog.text


def test_a_queue_that_cannot_be_reached_is_logged_not_an_error_page(
    app, client, inbox, monkeypatch, caplog
):
    def unreachable(*args):
        raise ConnectionError("redis is down")

    tasks = app.extensions["contest.tasks"]
    monkeypatch.setitem(tasks, "mail_receipt", unreachable)
    response = _post_entry(client)
    assert response.status_code == 303
    assert len(_entries(app)) == 1
    assert "could not queue the mail job mail_receipt" in caplog.text


# Recovering receipt links.


def test_recovery_answers_alike_for_a_known_and_an_unknown_contact(app, client, inbox, make_entry):
    mine = make_entry(email="gildong.hong@example.com", phone="+821055556666")
    make_entry(email="someone.else@example.com", phone="+821077778888")
    page = client.get("/")
    assert 'href="/receipt/recover"' in page.get_data(as_text=True)
    assert client.get("/receipt/recover").status_code == 200

    known = client.post("/receipt/recover", data={"contact": "Gildong.HONG@example.com"})
    known_page = client.get(known.headers["Location"]).get_data(as_text=True)
    unknown = client.post("/receipt/recover", data={"contact": "nobody@example.com"})
    unknown_page = client.get(unknown.headers["Location"]).get_data(as_text=True)
    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"]
    assert known.get_data() == unknown.get_data()
    assert known_page == unknown_page

    [message] = inbox.messages  # only for the known contact, only to its address on file
    assert message["To"] == "gildong.hong@example.com"
    assert "접수번호" in message["Subject"]
    [entry] = [e for e in _entries(app) if e.id == mine]
    assert _receipt_link(entry) in _text(message)
    assert "someone.else" not in message.as_string()


def test_recovery_by_phone_sends_each_address_only_its_own_entries(app, client, inbox, make_entry):
    first = make_entry(email="first@example.com", phone="+821012345678")
    second = make_entry(email="second@example.com", phone="+821012345678")
    response = client.post("/receipt/recover", data={"contact": "010-1234-5678"})
    assert response.status_code == 303
    by_address = {m["To"]: _text(m) for m in inbox.messages}
    assert sorted(by_address) == ["first@example.com", "second@example.com"]
    entries = {e.id: e for e in _entries(app)}
    assert entries[first].receipt_display in by_address["first@example.com"]
    assert entries[second].receipt_display not in by_address["first@example.com"]
    assert entries[second].receipt_display in by_address["second@example.com"]


def test_recovery_asked_on_the_english_page_answers_in_english(app, client, inbox, make_entry):
    make_entry(email="gildong.hong@example.com")
    client.get("/language/en", query_string={"next": "/"})
    client.post("/receipt/recover", data={"contact": "gildong.hong@example.com"})
    [message] = inbox.messages
    assert message["Subject"].endswith("Your receipt codes")
    assert "Here are the receipt codes" in _text(message)


def test_recovery_is_rate_limited_per_contact_from_any_address(app, inbox, make_entry):
    make_entry(email="gildong.hong@example.com")
    app.config["RECOVER_TARGET_RATE_LIMIT"] = "2 per hour"
    app.config["RECOVER_RATE_LIMIT"] = "100 per hour"
    client = app.test_client()

    def ask(typed: str, address: str):
        return client.post(
            "/receipt/recover", data={"contact": typed}, environ_base={"REMOTE_ADDR": address}
        )

    assert ask("gildong.hong@example.com", "10.0.0.1").status_code == 303
    assert ask("GILDONG.HONG@example.com ", "10.0.0.2").status_code == 303
    assert ask("Gildong.Hong@Example.com", "10.0.0.3").status_code == 429  # same contact
    assert ask("other@example.com", "10.0.0.3").status_code == 303
    assert len(inbox.messages) == 2


def test_recovery_is_rate_limited_per_address(app, inbox):
    app.config["RECOVER_RATE_LIMIT"] = "3 per hour"
    client = app.test_client()
    answers = [
        client.post("/receipt/recover", data={"contact": f"n{i}@example.com"}).status_code
        for i in range(4)
    ]
    assert answers == [303, 303, 303, 429]


def test_recovery_refuses_what_is_neither_an_address_nor_a_number(client, inbox):
    response = client.post("/receipt/recover", data={"contact": "hello"})
    assert response.status_code == 400
    assert "이메일 주소나 휴대전화 번호를 확인해 주세요" in response.get_data(as_text=True)
    assert inbox.messages == []


# Winners.


@pytest.fixture
def awarded(app, make_entry) -> Callable[..., list[int]]:
    """Give the grand and gold prizes of the photo category to two new entries."""

    def give() -> list[int]:
        ids = [
            make_entry(email="winner.one@example.com", language="en"),
            make_entry(email="winner.two@example.com"),
        ]
        with app.app_context():
            for position, (entry_id, tier) in enumerate(
                zip(ids, ("grand", "gold"), strict=True), 1
            ):
                entry = db.session.get(Entry, entry_id)
                db.session.add(
                    Award(
                        contest_id=entry.contest_id,
                        category_id=entry.category_id,
                        entry_id=entry_id,
                        tier=tier,
                        position=position,
                    )
                )
            db.session.commit()
        return ids

    return give


def _sign_in_admin(app, make_user):
    make_user("organiser-lee", role="admin")
    return _sign_in(app)


def _sign_in(app):
    from .conftest import PASSWORD

    client = app.test_client()
    response = client.post("/login", data={"username": "organiser-lee", "password": PASSWORD})
    assert response.status_code == 303
    return client


def test_winners_are_told_once_even_when_published_again(app, inbox, awarded, make_user):
    one, two = awarded()
    client = _sign_in_admin(app, make_user)
    assert client.post("/admin/awards/publish").status_code == 303
    by_address = {m["To"]: m for m in inbox.messages}
    assert sorted(by_address) == ["winner.one@example.com", "winner.two@example.com"]
    entries = {e.id: e for e in _entries(app)}
    english, korean = by_address["winner.one@example.com"], by_address["winner.two@example.com"]
    assert "Congratulations" in english["Subject"]
    assert "수상을 축하합니다" in korean["Subject"]
    assert "대상" not in _text(english).split("--")[0]
    assert "최우수상" in _text(korean)
    assert _receipt_link(entries[two]) in _text(korean)
    assert f"{PUBLIC}/winners" in _text(korean)
    assert _receipt_link(entries[one]) in _text(english)

    assert client.post("/admin/awards/unpublish").status_code == 303
    assert client.post("/admin/awards/publish").status_code == 303
    assert len(inbox.messages) == 2  # nothing twice
    with app.app_context():
        told = db.session.scalar(
            select(func.count()).select_from(Entry).where(Entry.winner_mailed_at.is_not(None))
        )
    assert told == 2


def test_a_winner_whose_mail_failed_is_told_on_the_retry(app, inbox, awarded, make_user):
    one, _two = awarded()
    client = _sign_in_admin(app, make_user)
    app.config["MAIL_PORT"] = _free_port()  # the mail server is down
    assert client.post("/admin/awards/publish").status_code == 303
    assert inbox.messages == []
    with app.app_context():
        told = select(func.count()).select_from(Entry).where(Entry.winner_mailed_at.is_not(None))
        assert db.session.scalar(told) == 0  # the claims were given back
        [retry] = jobs.queue().scheduled()
        assert retry.name == "mail_winners"
    app.config["MAIL_PORT"] = inbox.port  # back up: the retry sends both
    with app.test_request_context(base_url="http://localhost/"):
        jobs.mail_winners(db.session.get(Entry, one).contest_id)
    assert sorted(m["To"] for m in inbox.messages) == [
        "winner.one@example.com",
        "winner.two@example.com",
    ]


# The dashboard.


def test_the_dashboard_says_when_mail_is_off(app, make_user):
    client = _sign_in_admin(app, make_user)
    app.config["MAIL_SERVER"] = None
    page = client.get("/admin").get_data(as_text=True)
    assert 'id="mail-off"' in page and "MAIL_SERVER" in page


def test_the_dashboard_is_quiet_when_mail_is_on(app, make_user):
    page = _sign_in_admin(app, make_user).get("/admin").get_data(as_text=True)
    assert 'id="mail-off"' not in page
