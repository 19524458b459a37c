"""Mail over an encrypted, signed-in connection: STARTTLS, TLS from the first byte (SMTPS) and
AUTH LOGIN/PLAIN, against a real aiosmtpd on the loopback with a certificate made here.

The server's certificate is self-signed, trusted through MAIL_CA_FILE; the client checks it,
its name (127.0.0.1) included, so a server it does not trust gets nothing, as a wrong password
gets nothing: either way the entry stands and the mail waits for its retry.
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from contest.core import jobs

from .test_mail import _entries, _free_port, _Inbox, _mail_settings, _post_entry

USERNAME = "contest-mailer"
PASSWORD = "s3cret-메일-password"  # not ASCII: smtplib's own login cannot send it
ASCII_PASSWORD = "s3cret-mail-password"


@dataclass
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Certificate:
    """A self-signed certificate for 127.0.0.1, made for this module's servers."""
    folder = tmp_path_factory.mktemp("smtp-tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "contest test SMTP")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    found = Certificate(folder / "smtp.crt", folder / "smtp.key")
    found.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    found.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return found


class _SecureInbox(_Inbox):
    """The inbox, noting for each message whether it came over TLS and who signed in how."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions: list[dict] = []
        self.logins: list[tuple[str, str, bool]] = []  # (mechanism, login, accepted)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        encrypted = server.transport.get_extra_info("ssl_object") is not None
        self.sessions.append({"tls": encrypted, "user": session.auth_data})
        return await super().handle_DATA(server, session, envelope)

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        """aiosmtpd's authenticator: only USERNAME with PASSWORD gets in."""
        accepted = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) in ((USERNAME, PASSWORD), (USERNAME, ASCII_PASSWORD))
        login = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else "?"
        self.logins.append((mechanism, login, accepted))
        # handled=False: aiosmtpd answers a refusal itself (535).
        return AuthResult(success=accepted, handled=False, auth_data=login if accepted else None)


@pytest.fixture
def smtp_server(certificate) -> Iterator[Callable[..., _SecureInbox]]:
    """Start a real SMTP server on 127.0.0.1 with aiosmtpd's settings given; its inbox has
    `.port`. Stopped when the test ends."""
    started: list[Controller] = []

    def start(**smtp_settings) -> _SecureInbox:
        inbox = _SecureInbox()
        if "authenticator" in smtp_settings:
            smtp_settings["authenticator"] = inbox.authenticate
        controller = Controller(inbox, hostname="127.0.0.1", port=_free_port(), **smtp_settings)
        controller.start()
        started.append(controller)
        inbox.port = controller.port
        return inbox

    yield start
    for controller in started:
        controller.stop()


def _retry_waiting(app) -> list[str]:
    with app.app_context():
        return [task.name for task in jobs.queue().scheduled()]


def test_starttls_with_a_login_delivers_the_receipt(make_app, smtp_server, certificate):
    inbox = smtp_server(
        tls_context=certificate.server_context(),
        require_starttls=True,  # nothing, not even the login, before the connection is secret
        authenticator=True,
        auth_required=True,
    )
    app = make_app(
        **_mail_settings(
            inbox.port,
            MAIL_USE_TLS=True,
            MAIL_CA_FILE=str(certificate.cert),
            MAIL_USERNAME=USERNAME,
            MAIL_PASSWORD=PASSWORD,
        )
    )
    assert _post_entry(app.test_client()).status_code == 303
    [entry] = _entries(app)
    [message] = inbox.messages
    assert entry.receipt_display in message["Subject"]
    assert message["X-Envelope-To"] == "gildong.hong@example.com"
    assert inbox.sessions == [{"tls": True, "user": USERNAME}]
    assert [(login, accepted) for _, login, accepted in inbox.logins] == [(USERNAME, True)]
    assert _retry_waiting(app) == []


@pytest.mark.parametrize("password", [ASCII_PASSWORD, PASSWORD])
@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
def test_each_login_mechanism_checks_the_password(
    make_app, smtp_server, certificate, mechanism, password
):
    other = {"LOGIN": "PLAIN", "PLAIN": "LOGIN"}[mechanism]
    inbox = smtp_server(
        tls_context=certificate.server_context(),
        require_starttls=True,
        authenticator=True,
        auth_required=True,
        auth_exclude_mechanism=[other],  # the server offers only `mechanism`
    )
    settings = _mail_settings(
        inbox.port,
        MAIL_USE_TLS=True,
        MAIL_CA_FILE=str(certificate.cert),
        MAIL_USERNAME=USERNAME,
    )
    app = make_app(**settings, MAIL_PASSWORD=password)
    assert _post_entry(app.test_client()).status_code == 303
    assert len(inbox.messages) == 1
    assert inbox.logins == [(mechanism, USERNAME, True)]

    wrong = make_app(**settings, MAIL_PASSWORD="not-the-password")
    assert _post_entry(wrong.test_client(), email="other@example.com").status_code == 303
    assert len(inbox.messages) == 1  # nothing more arrived
    assert inbox.logins[1:] == [(mechanism, USERNAME, False)]


def test_a_wrong_password_leaves_the_entry_standing_and_the_mail_waiting(
    make_app, smtp_server, certificate, caplog
):
    inbox = smtp_server(
        tls_context=certificate.server_context(),
        require_starttls=True,
        authenticator=True,
        auth_required=True,
    )
    settings = _mail_settings(
        inbox.port,
        MAIL_USE_TLS=True,
        MAIL_CA_FILE=str(certificate.cert),
        MAIL_USERNAME=USERNAME,
        MAIL_PASSWORD="not-the-password",
        MAIL_RETRIES=3,
        MAIL_RETRY_DELAY=60,
    )
    app = make_app(**settings)
    with caplog.at_level(logging.INFO):
        response = _post_entry(app.test_client())
    [entry] = _entries(app)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/receipt/{entry.receipt}"
    assert inbox.messages == []
    assert _retry_waiting(app) == ["mail_receipt"]
    assert "SMTPAuthenticationError" in caplog.text  # the kind of failure, for the operator
    assert "not-the-password" not in caplog.text and "gildong" not in caplog.text.lower()

    # The operator fixes the password: the retry (the job's own function) delivers it.
    app.config["MAIL_PASSWORD"] = PASSWORD
    with app.test_request_context(base_url="http://localhost/"):
        jobs.mail_receipt(entry.id)
    [message] = inbox.messages
    assert entry.receipt_display in message["Subject"]


def test_a_server_whose_certificate_is_not_trusted_gets_nothing(make_app, smtp_server, certificate):
    inbox = smtp_server(tls_context=certificate.server_context(), require_starttls=True)
    # No MAIL_CA_FILE: the system's store does not know this self-signed certificate.
    app = make_app(**_mail_settings(inbox.port, MAIL_USE_TLS=True, MAIL_RETRIES=2))
    assert _post_entry(app.test_client()).status_code == 303
    assert len(_entries(app)) == 1
    assert inbox.messages == [] and inbox.sessions == []
    assert _retry_waiting(app) == ["mail_receipt"]


def test_ssl_from_the_first_byte_delivers_the_receipt(make_app, smtp_server, certificate):
    inbox = smtp_server(
        ssl_context=certificate.server_context(),  # SMTPS (port 465 in real life)
        authenticator=True,
        # aiosmtpd counts only STARTTLS as TLS (this is TLS throughout) and warns when a login
        # is required without it, so the login is offered, not required: `sessions` shows it.
        auth_require_tls=False,
    )
    app = make_app(
        **_mail_settings(
            inbox.port,
            MAIL_USE_SSL=True,
            MAIL_CA_FILE=str(certificate.cert),
            MAIL_USERNAME=USERNAME,
            MAIL_PASSWORD=PASSWORD,
        )
    )
    assert _post_entry(app.test_client()).status_code == 303
    [entry] = _entries(app)
    [message] = inbox.messages
    assert entry.receipt_display in message["Subject"]
    assert inbox.sessions == [{"tls": True, "user": USERNAME}]
