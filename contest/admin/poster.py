"""The booth poster: an A4 page with a large QR code of the entry form, to print."""

from __future__ import annotations

from flask import render_template

from contest.admin import bp
from contest.core.qr import qr_svg
from contest.core.responses import external_url
from contest.services.contests import current_contest, public_url


@bp.get("/poster")
def show_poster():
    """The printable poster: title, dates, the QR code of the submit page, three steps.

    The code points at the public address (`PUBLIC_URL`, or the one saved on /admin/contest);
    without one, at the host this page was opened on, which the screen (not the print) warns of.
    """
    contest = current_contest()
    base = public_url(contest)
    url = external_url(base, "submit.show_form")
    return render_template(
        "admin/poster.html", contest=contest, url=url, qr=qr_svg(url), has_public_url=bool(base)
    )
