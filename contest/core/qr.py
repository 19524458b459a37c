"""QR codes as inline SVG: the booth poster's and the live wall's link to the entry form, and
the vote cards' link to the gallery."""

from __future__ import annotations

import qrcode
from flask_babel import gettext as _
from markupsafe import Markup, escape
from qrcode.image.svg import SvgPathImage


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
