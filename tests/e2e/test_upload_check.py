"""A refused file is named next to its field as soon as its upload completes, before the
visitor presses submit: the real worker checks it in the background, the page asks
`/uploads/<id>/check` and shows the message (submit.js `watchCheck`)."""

from __future__ import annotations

import pytest

from ..photos import photo_bytes

pytestmark = pytest.mark.slow

FAKE_JPEG = b"\xff\xd8\xff\xe0" + b"not really a photo " * 2000
REFUSED_KO = "파일이 손상되었거나 전송 중에 잘렸습니다"


def _created_uploads(page) -> list[str]:
    """The addresses of the uploads this page creates (the shared site keeps others')."""
    made: list[str] = []

    def seen(response) -> None:
        if response.request.method == "POST" and response.url.endswith("/uploads"):
            location = response.headers.get("location")
            if location:
                made.append(location)

    page.on("response", seen)
    return made


def _terminate(page, site, urls: list[str]) -> None:
    """Give this test's uploads up, as the visitor replacing the file would, so the site's
    other tests find no upload of ours left.

    From the form opened afresh: the page that sent them may still be asking for a good
    file's check on a busy machine, and stops only when it is left; a check asked after its
    upload is gone is answered 404, which the browser logs as an error."""
    page.goto("/submit")
    for url in urls:
        page.evaluate(
            """async (url) => {
                const token = document.querySelector('input[name="csrf_token"]').value;
                await fetch(url, {method: 'DELETE',
                                  headers: {'Tus-Resumable': '1.0.0', 'X-CSRFToken': token}});
            }""",
            url,
        )
        upload_id = url.rsplit("/", 1)[1]
        assert site.query("SELECT count(*) FROM upload WHERE id = :i", i=upload_id) == [(0,)]


def test_a_refused_file_is_named_before_submitting(site, browsing):
    page = browsing.page()
    made = _created_uploads(page)
    page.goto("/submit")
    page.set_input_files(
        "#media", files=[{"name": "IMG_0900.jpg", "mimeType": "image/jpeg", "buffer": FAKE_JPEG}]
    )
    page.wait_for_function(
        f"() => document.querySelector('#media-error').textContent.includes('{REFUSED_KO}')",
        timeout=30_000,
    )
    assert page.get_attribute("#media", "aria-invalid") == "true"
    assert page.url.endswith("/submit")  # nothing was submitted
    browsing.shot(page, "refused-before-submit")
    _terminate(page, site, made)


def test_each_work_shows_its_own_refusal_in_english(site, browsing):
    page = browsing.page()
    made = _created_uploads(page)
    page.goto("/language/en")
    page.goto("/submit")
    page.set_input_files(
        "#media",
        files=[
            {"name": "IMG_0901.jpg", "mimeType": "image/jpeg", "buffer": photo_bytes(seed=909)},
            {"name": "IMG_0902.jpg", "mimeType": "image/jpeg", "buffer": FAKE_JPEG},
        ],
    )
    page.wait_for_function(
        "() => document.querySelector('#works-1-upload-error').textContent"
        ".includes('The file is damaged')",
        timeout=30_000,
    )
    assert page.inner_text("#works-0-upload-error") == ""  # the good photo is not blamed
    browsing.shot(page, "work-refused-before-submit")
    _terminate(page, site, made)
