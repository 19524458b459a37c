"""The booth poster: an A4 page with a large QR code of the entry form, to print."""

from __future__ import annotations

import qrcode
from flask import render_template
from flask_babel import gettext as _
from markupsafe import Markup, escape
from qrcode.image.svg import SvgPathImage

from contest.admin import bp
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


def qr_svg(data: str, label: str | None = None) -> Markup:
    """A QR code as inline SVG markup (a path, no script), so the page needs no image file.

    Error correction M survives a scuffed or glare-struck print; the 4-module quiet zone is
    what phone scanners need around it.
    """
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(data)
    code.make(fit=True)
    svg = code.make_image(image_factory=SvgPathImage).to_string(encoding="unicode")
    # The SVG's own mm size would print it 3 cm wide: the stylesheet sizes it instead.
    label = escape(label or _("응모 페이지 QR 코드"))
    svg = svg.replace("<svg ", f'<svg class="qr" role="img" aria-label="{label}" ', 1)
    return Markup(svg)  # made by qrcode from our own URL: no user input in it
