"""E-mail: messages written from templates in the entrant's language, sent over SMTP.

The standard library's `email.message.EmailMessage` and `smtplib` do it: only the job worker
sends (never a request), so no Flask extension is needed, and the errors a retry must see are
smtplib's own. A failure is raised as `MailNotSent` naming only the kind of error: smtplib's
messages can hold the recipient's address, and huey logs what a job raised.
"""

from __future__ import annotations

import base64
import smtplib
import ssl
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

from flask import Flask, current_app, render_template
from flask_babel import force_locale

from contest.core.i18n import DEFAULT, LANGUAGES

# Headers folded at 998, not 78: folding a subject of English and Korean words at 78 loses the
# space between two encoded words (CPython's folder), "응모가 접수" arriving as "응모가접수".
_POLICY = policy.default.clone(max_line_length=998)


class MailNotSent(Exception):
    """The SMTP server could not be reached or did not take the message (the job retries)."""


def enabled(config=None) -> bool:
    """Whether mail is on: a server and a sender address are set."""
    config = config if config is not None else current_app.config
    return bool(config.get("MAIL_SERVER") and config.get("MAIL_FROM"))


def language_of(value: str | None) -> str:
    """One of the site's languages: the entrant's, else Korean."""
    return value if value in LANGUAGES else DEFAULT


def compose(to: str, language: str, template: str, **context) -> EmailMessage:
    """A message to one address: `mail/<template>.txt` (its first line is the subject) as
    plain text, with `mail/<template>.html` as the HTML alternative, in `language`."""
    with force_locale(language_of(language)):
        subject, _blank, body = render_template(f"mail/{template}.txt", **context).partition("\n")
        html = render_template(f"mail/{template}.html", subject=subject, **context)
    message = EmailMessage(policy=_POLICY)
    message["Subject"] = subject.strip()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = to
    message["Message-ID"] = make_msgid(domain=_sender_domain())
    message.set_content(body.lstrip("\n"))
    message.add_alternative(html, subtype="html")
    return message


def send(messages: list[EmailMessage]) -> None:
    """Hand the messages to the SMTP server in one connection; `MailNotSent` if it fails."""
    config = current_app.config
    host, port, timeout = config["MAIL_SERVER"], config["MAIL_PORT"], config["MAIL_TIMEOUT"]
    try:
        # The certificate is always checked, name included: a login and entrants' addresses
        # go over this connection. MAIL_CA_FILE trusts a private CA instead of the system's.
        context = ssl.create_default_context(cafile=config.get("MAIL_CA_FILE"))
        if config["MAIL_USE_SSL"]:
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            if config["MAIL_USE_TLS"] and not config["MAIL_USE_SSL"]:
                smtp.starttls(context=context)
            if config.get("MAIL_USERNAME"):
                _login(smtp, config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
            for message in messages:
                smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        # Only the kind of error: its text may name the recipient.
        raise MailNotSent(f"mail not sent: {type(error).__name__}") from None


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    """smtplib's login, which picks the mechanism; but smtplib encodes the name and password
    as ASCII and fails on anything else (a Korean password), so those go as UTF-8 (RFC 4616,
    4954) with AUTH PLAIN, or LOGIN when that is all the server offers."""
    if (username + password).isascii():
        smtp.login(username, password)
        return
    smtp.ehlo_or_helo_if_needed()
    offered = smtp.esmtp_features.get("auth", "").upper().split()
    if "PLAIN" in offered:
        code, answer = smtp.docmd("AUTH", "PLAIN " + _base64(f"\0{username}\0{password}"))
    elif "LOGIN" in offered:
        code, answer = smtp.docmd("AUTH", "LOGIN " + _base64(username))
        if code == 334:
            code, answer = smtp.docmd(_base64(password))
    else:
        raise smtplib.SMTPNotSupportedError("the server offers neither AUTH PLAIN nor LOGIN")
    if code not in (235, 503):  # 503: already signed in, as smtplib takes it
        raise smtplib.SMTPAuthenticationError(code, answer)


def _base64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def log_state(app: Flask) -> None:
    """Say in the log at start-up whether mail is on (no address is logged)."""
    if enabled(app.config):
        config = app.config
        app.logger.info("mail is on: via %s:%s", config["MAIL_SERVER"], config["MAIL_PORT"])
    else:
        app.logger.warning(
            "mail is off: MAIL_SERVER and MAIL_FROM are not both set, so entrants get no receipts,"
            " recovered receipt links or winner notices by e-mail"
        )


def _sender_domain() -> str | None:
    address = current_app.config["MAIL_FROM"]
    address = address.rsplit("<", 1)[-1].rstrip(">")
    return address.rsplit("@", 1)[-1] if "@" in address else None
