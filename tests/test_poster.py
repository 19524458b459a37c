"""The booth poster: an A4 page whose inline SVG QR code encodes the public submit URL."""

from __future__ import annotations

import re

import pytest
import qrcode

SUBMIT_URL = "http://localhost/submit"


def modules_of(svg_path: str) -> set[tuple[int, int]]:
    """The dark modules an SvgPathImage path draws: one "Mx,yH..V..H..z" square each."""
    return {(int(x), int(y)) for x, y in re.findall(r"M(\d+),(\d+)H", svg_path)}


def modules_for(data: str) -> set[tuple[int, int]]:
    """The dark modules of the QR code of `data` (same error correction and quiet zone)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(data)
    code.make(fit=True)
    return {(x, y) for y, row in enumerate(code.get_matrix()) for x, dark in enumerate(row) if dark}


def test_the_poster_has_the_title_dates_steps_and_a_qr_code_of_the_submit_page(client, admin):
    response = client.get("/admin/poster")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "정부3.0 체험마당 UCC 공모전" in page
    assert "2026년 12월 3일" in page and "2026년 12월 6일" in page
    assert SUBMIT_URL in page
    for step in ("Scan the QR code", "Shoot or choose", "keep your receipt code", "접수번호"):
        assert step in page

    svg = re.search(r"<svg [^>]*class=\"qr\".*?</svg>", page, re.S)
    assert svg is not None
    path = re.search(r'<path d="([^"]+)"', svg.group(0)).group(1)
    # Reading the QR code back: its modules are exactly those of the submit URL's code.
    assert modules_of(path) == modules_for(SUBMIT_URL)
    assert modules_of(path) != modules_for(SUBMIT_URL + "x")
    assert "<script" not in page


def test_the_print_stylesheet_makes_it_one_a4_page(client, admin):
    page = client.get("/admin/poster").get_data(as_text=True)
    assert 'href="/static/css/print.css"' in page
    response = client.get("/static/css/print.css")
    css = response.get_data(as_text=True)
    response.close()
    assert re.search(r"@page\s*{\s*size:\s*A4", css)
    assert "@media print" in css


@pytest.mark.parametrize("host", ["contest.example.kr", "fair.go.kr"])
def test_the_qr_code_follows_the_host_the_site_is_served_on(client, make_user, host):
    base = f"https://{host}"
    make_user("boss", role="admin")
    data = {"username": "boss", "password": "correct horse battery"}
    assert client.post("/login", data=data, base_url=base).status_code == 303
    page = client.get("/admin/poster", base_url=base).get_data(as_text=True)
    url = f"{base}/submit"
    path = re.search(r'<svg [^>]*class="qr".*?<path d="([^"]+)"', page, re.S).group(1)
    assert url in page and modules_of(path) == modules_for(url)
