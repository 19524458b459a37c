"""Several works picked at once survive the venue's network: each upload pauses offline and goes
on once online, and after a reload each file picked again resumes its own upload from the
server's offset (a finished one is not sent again), with the titles typed so far kept. Back
from a phone's locked screen, an upload that gave up or waits out its backoff goes on at once,
for several files and for one."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from ..photos import photo_bytes
from ..server_helpers import HOST, CuttingProxy
from .test_visitor import _fill_entrant, _receipt_code, _throttle_uploads

pytestmark = pytest.mark.slow

CHUNK = 1024 * 1024  # submit.js's chunkSize: what one interrupted request may waste
# Request lines and headers (cookie, CSRF token, tus headers) and the form's own fields: what a
# request costs on the wire besides the file's bytes. Generous, and still far below one chunk.
HEADERS_PER_REQUEST = 2048

WORK_BARS = "() => [...document.querySelectorAll('#works progress')].map(p => p.value)"
WORK_STATUSES = (
    "() => [...document.querySelectorAll('#works [id$=\"-status\"]')].map(s => s.textContent)"
)


def _fill_entrant_once(page, n: int) -> None:
    """The entrant's own fields, typed once for every work."""
    page.fill("#name", f"홍여럿{n}")
    page.fill("#phone", f"010-7{n % 1000:03d}-{n:04d}")
    page.fill("#email", f"e2e-several{n}@example.com")
    page.check("#consent")
    page.check("#declaration")


def _entries(site, codes: list[str]) -> list[tuple[str, str]]:
    """(title, sha256) of this test's entries only: the browser tests share one site."""
    return sorted(
        site.query("SELECT title, sha256 FROM entry WHERE receipt = :c", c=c)[0] for c in codes
    )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_several_uploads_pause_offline_and_all_complete_once_online(site, browsing):
    photos = [photo_bytes(size=(3000, 2250), seed=s, quality=97) for s in (4747, 4748)]
    titles = ("끊긴 첫 작품", "끊긴 둘째 작품")
    page = browsing.page()
    page.goto("/submit")
    _throttle_uploads(page, 250_000)
    page.set_input_files(
        "#media",
        files=[
            {"name": f"IMG_04{n}.jpg", "mimeType": "image/jpeg", "buffer": photo}
            for n, photo in enumerate(photos)
        ],
    )
    for n, title in enumerate(titles):
        page.fill(f"#works-{n}-title", title)
    _fill_entrant_once(page, 4747)
    page.wait_for_function(f"() => ({WORK_BARS})().every(v => v >= 10)")
    # Each file says how fast it goes and how long it has left, as one file does.
    page.wait_for_function(
        f"() => ({WORK_STATUSES})().length === 2"
        f" && ({WORK_STATUSES})().every(t => t.includes('/초') && t.includes('남은 시간'))"
    )
    browsing.shot(page, "speed-per-file")

    page.context.set_offline(True)
    page.wait_for_function(
        "() => { const said = [...document.querySelectorAll('#works [id$=\"-status\"]')];"
        " return said.length === 2 && said.every(s => s.textContent.includes('끊겼습니다')); }"
    )
    paused_at = page.evaluate(WORK_BARS)
    assert len(paused_at) == 2 and all(v < 100 for v in paused_at), paused_at
    browsing.shot(page, "offline")
    page.locator("#submit-button").tap()  # submitted while offline: sent once every file is up
    page.wait_for_timeout(1500)
    assert page.evaluate(WORK_BARS) == paused_at  # nothing moves while offline
    assert page.is_disabled("#submit-button")
    assert "끊겼습니다" in page.inner_text("#upload-progress-text")

    page.context.set_offline(False)
    _throttle_uploads(page, -1)  # the rest at full speed: what the test watches for was seen
    page.wait_for_url("**/receipts/**", timeout=120_000)
    codes = page.url.rsplit("/", 1)[1].split(",")
    assert _entries(site, codes) == sorted(zip(titles, map(_sha, photos), strict=True))
    browsing.shot(page, "receipts")
    # What going offline logs in the console (requests cut by the network) is expected here.
    browsing.watch.problems[:] = [
        p for p in browsing.watch.problems if "ERR_INTERNET_DISCONNECTED" not in p
    ]


class _Uploads:
    """What the page asked of /uploads, seen from the browser: which upload is which file
    (by its length), how far each got, and what was asked after a given moment."""

    def __init__(self, page) -> None:
        self.requests: list[tuple[str, str, str | None]] = []  # method, url, Upload-Offset
        self.url_of_length: dict[int, str] = {}
        self.stored: dict[str, int] = {}  # upload url -> offset the server confirmed
        page.on("request", self._request)
        page.on("response", self._response)

    def _request(self, request) -> None:
        self.requests.append((request.method, request.url, request.headers.get("upload-offset")))

    def _response(self, response) -> None:
        method = response.request.method
        if method == "POST" and response.status == 201 and "/uploads" in response.url:
            length = int(response.request.headers["upload-length"])
            self.url_of_length[length] = response.headers["location"]
        elif method in ("PATCH", "HEAD") and response.status in (200, 204):
            path = response.url.split("//", 1)[1].split("/", 1)[1]
            self.stored["/" + path] = int(response.headers["upload-offset"])

    def offset(self, data: bytes) -> int:
        url = self.url_of_length.get(len(data))
        return self.stored.get(url, 0) if url else 0


def _wait(page, condition, seconds: float, what: str) -> None:
    """Poll `condition` while letting Playwright deliver the page's events."""
    for _ in range(int(seconds * 5)):
        if condition():
            return
        page.wait_for_timeout(200)
    pytest.fail(f"gave up after {seconds} s waiting for {what}")


def test_after_a_reload_each_work_picked_again_resumes_from_its_offset(
    site, browsing, tmp_path: Path
):
    small = photo_bytes(size=(1600, 1200), seed=4848)  # one chunk: finished before the reload
    bigs = [photo_bytes(size=(3600, 2700), seed=s, quality=97) for s in (4849, 4850)]
    photos = [small, *bigs]
    assert len({len(p) for p in photos}) == 3  # the uploads are told apart by their lengths
    assert all(len(b) > 3 * CHUNK for b in bigs)
    titles = ("다 올라간 작품", "반쯤 올라간 작품", "조금 올라간 작품")
    paths = []
    for n, photo in enumerate(photos):  # real files: their modification time is fingerprinted
        path = tmp_path / f"IMG_05{n}.jpg"
        path.write_bytes(photo)
        paths.append(str(path))

    counter = CuttingProxy(site.port, cuts=[])  # counts every byte sent to the site, no cuts
    try:
        base = f"http://{HOST}:{counter.port}"
        page = browsing.page()
        seen = _Uploads(page)
        page.goto(base + "/submit")
        _throttle_uploads(page, 400_000)
        page.set_input_files("#media", paths)
        for n, title in enumerate(titles):
            page.fill(f"#works-{n}-title", title)
        page.fill("#works-1-description", "새로 고쳐도 남는 설명")
        _wait(
            page,
            lambda: (
                seen.offset(small) == len(small) and all(seen.offset(b) >= 2 * CHUNK for b in bigs)
            ),
            90,
            "the small file finished and two chunks of each big one stored",
        )
        finished_url = seen.url_of_length[len(small)]
        before_reload = len(seen.requests)
        page.reload()

        _throttle_uploads(page, 4_000_000)
        page.set_input_files("#media", paths)
        # Typed before the reload, kept in this tab (sessionStorage) for the same files.
        assert [page.input_value(f"#works-{n}-title") for n in range(3)] == list(titles)
        assert page.input_value("#works-1-description") == "새로 고쳐도 남는 설명"
        _fill_entrant_once(page, 4848)
        page.locator("#submit-button").tap()
        page.wait_for_url("**/receipts/**", timeout=120_000)
        sent = counter.sent
    finally:
        counter.close()

    # The whole bound: the files once, at most one chunk per file lost to the reload, and
    # each request's headers.
    total = sum(map(len, photos))
    interruptions = 1  # the reload
    bound = total + CHUNK * len(photos) * interruptions + HEADERS_PER_REQUEST * len(seen.requests)
    assert sent <= bound, (sent, total, bound)

    after = seen.requests[before_reload:]
    uploads_after = [(m, url, o) for m, url, o in after if "/uploads" in url]
    assert not [r for r in uploads_after if r[0] == "POST"], after  # no upload created anew
    assert not [r for r in uploads_after if r[0] == "PATCH" and r[1].endswith(finished_url)]
    for big in bigs:
        url = seen.url_of_length[len(big)]
        offsets = [int(o) for m, u, o in uploads_after if m == "PATCH" and u.endswith(url)]
        assert offsets and offsets[0] >= 2 * CHUNK, (url, offsets)  # on from where it stood

    codes = page.url.rsplit("/", 1)[1].split(",")
    assert _entries(site, codes) == sorted(zip(titles, map(_sha, photos), strict=True))
    assert site.query(
        "SELECT description FROM entry"
        " WHERE receipt IN (:a, :b, :c) AND coalesce(description, '') != ''",
        a=codes[0],
        b=codes[1],
        c=codes[2],
    ) == [("새로 고쳐도 남는 설명",)]
    ids = [url.rsplit("/", 1)[1] for url in seen.url_of_length.values()]
    assert site.query(
        "SELECT count(*) FROM upload WHERE id IN (:a, :b, :c)", a=ids[0], b=ids[1], c=ids[2]
    ) == [(0,)]
    print(f"bytes sent {sent} for {total} bytes of files: {sent / total:.3f}")


UPLOADS = re.compile(r"/uploads(/|$)")
GAVE_UP = "네트워크 연결이 불안정합니다"  # MSG.network, next to a work's file
RETRYING = "다시 시도하는 중"  # MSG.retrying


class _Unreachable:
    """The site out of the phone's reach: every request to /uploads is refused as a dead
    network refuses it, and the browser fires no 'offline' or 'online' (which
    `context.set_offline` would, and which the page already answers)."""

    def __init__(self, page) -> None:
        self.page = page
        self.refused = 0
        page.route(UPLOADS, self._refuse)

    def _refuse(self, route) -> None:
        self.refused += 1
        route.abort("connectionrefused")

    def end(self) -> None:
        self.page.unroute(UPLOADS, self._refuse)


def _screen(page, visible: bool) -> None:
    """Lock or unlock the phone's screen, as the page sees it: document.visibilityState
    changes and 'visibilitychange' fires (a headless page is always visible otherwise)."""
    page.evaluate(
        """visible => {
            const state = visible ? "visible" : "hidden";
            const own = (name, get) =>
                Object.defineProperty(document, name, { configurable: true, get });
            own("visibilityState", () => state);
            own("hidden", () => !visible);
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        visible,
    )


def _counting_online_events(page) -> None:
    """Count the page's 'online' events: the uploads must go on without one."""
    page.add_init_script(
        "window.onlineEvents = 0; addEventListener('online', () => onlineEvents++)"
    )


def _patch(request) -> bool:
    """A chunk on its way: the upload goes on (the server's HEAD told it from where)."""
    return request.method == "PATCH"


def test_back_from_a_locked_screen_works_out_of_retries_go_on_at_once(site, browsing):
    photos = [photo_bytes(size=(3600, 2700), seed=s, quality=97) for s in (4951, 4952)]
    assert all(len(p) > 4 * CHUNK for p in photos)  # far from done when the network goes
    titles = ("잠금 화면 첫 작품", "잠금 화면 둘째 작품")
    page = browsing.page()
    page.clock.install()  # the retries' four minutes of backoff pass at once (fast_forward)
    _counting_online_events(page)
    seen = _Uploads(page)
    page.goto("/submit")
    _throttle_uploads(page, 400_000)
    page.set_input_files(
        "#media",
        files=[
            {"name": f"IMG_06{n}.jpg", "mimeType": "image/jpeg", "buffer": photo}
            for n, photo in enumerate(photos)
        ],
    )
    for n, title in enumerate(titles):
        page.fill(f"#works-{n}-title", title)
    _fill_entrant_once(page, 4951)
    _wait(page, lambda: all(seen.offset(p) >= CHUNK for p in photos), 60, "a chunk of each")

    # The screen locks and the network goes with it, for longer than all the retries.
    _screen(page, visible=False)
    network = _Unreachable(page)
    for _ in range(60):
        said = page.evaluate(
            "() => [0, 1].map(n => document.getElementById(`works-${n}-upload-error`).textContent)"
        )
        if all(GAVE_UP in s for s in said):
            break
        page.clock.fast_forward(61_000)
        page.wait_for_timeout(250)
    else:
        pytest.fail(f"the uploads never gave up: {said}")
    assert network.refused >= 2 * 10  # each went through its retries
    stopped_at = [seen.offset(p) for p in photos]
    assert all(CHUNK <= o < len(p) for o, p in zip(stopped_at, photos, strict=True)), stopped_at

    network.end()
    asked = len(seen.requests)
    page.wait_for_timeout(1500)
    assert len(seen.requests) == asked  # out of retries: nothing would happen by itself

    def offsets_sent(photo) -> list[int]:
        url = seen.url_of_length[len(photo)]
        return [int(o) for m, u, o in seen.requests[asked:] if m == "PATCH" and u.endswith(url)]

    _screen(page, visible=True)
    _wait(page, lambda: all(map(offsets_sent, photos)), 5, "both going on after the unlock")
    for photo, was in zip(photos, stopped_at, strict=True):
        assert offsets_sent(photo)[0] == was, (offsets_sent(photo), was)  # the server's offset
    after = [(m, url) for m, url, _ in seen.requests[asked:] if UPLOADS.search(url)]
    assert not [r for r in after if r[0] == "POST"], after  # the same uploads, not new ones
    assert page.evaluate(
        "() => [0, 1].map(n => document.getElementById(`works-${n}-upload-error`).textContent)"
    ) == ["", ""]
    browsing.shot(page, "going-on-after-unlock")

    _throttle_uploads(page, -1)  # the rest at full speed: both went on from their offsets
    page.locator("#submit-button").tap()
    page.wait_for_url("**/receipts/**", timeout=120_000)
    assert page.evaluate("() => onlineEvents") == 0
    codes = page.url.rsplit("/", 1)[1].split(",")
    assert _entries(site, codes) == sorted(zip(titles, map(_sha, photos), strict=True))
    _excuse_refused_requests(browsing)


def test_back_from_a_locked_screen_one_file_in_its_backoff_goes_on_at_once(site, browsing):
    photo = photo_bytes(size=(3600, 2700), seed=4953, quality=97)
    page = browsing.page()
    page.clock.install()  # the first retries pass at once (fast_forward)
    _counting_online_events(page)
    seen = _Uploads(page)
    page.goto("/submit")
    _throttle_uploads(page, 400_000)
    page.set_input_files(
        "#media", files=[{"name": "IMG_0700.jpg", "mimeType": "image/jpeg", "buffer": photo}]
    )
    _fill_entrant(page, "잠금 화면에서 돌아온 사진")
    _wait(page, lambda: seen.offset(photo) >= CHUNK, 60, "a chunk stored")

    _screen(page, visible=False)
    network = _Unreachable(page)
    # Seven refusals: the next retry is 30 s away (retryDelays 0, 1, 3, 5, 10, 20, 30 s...).
    # Steps of 2 s never reach it.
    for _ in range(200):
        if network.refused >= 7:
            break
        page.clock.fast_forward(2_000)
        page.wait_for_timeout(100)
    assert network.refused == 7, network.refused
    assert RETRYING in page.inner_text("#upload-progress-text")
    stopped_at = seen.offset(photo)

    network.end()
    asked = len(seen.requests)
    with page.expect_request(_patch, timeout=5_000):  # not 30 s later
        _screen(page, visible=True)
    patches = [int(o) for m, u, o in seen.requests[asked:] if m == "PATCH"]
    assert patches and patches[0] == stopped_at, (patches, stopped_at)
    assert not [m for m, u, o in seen.requests[asked:] if m == "POST"]  # the same upload

    _throttle_uploads(page, -1)  # the rest at full speed: it went on from its offset
    page.locator("#submit-button").tap()
    page.wait_for_url("**/receipt/**", timeout=120_000)
    assert page.evaluate("() => onlineEvents") == 0
    code = _receipt_code(page.url)
    assert site.query("SELECT sha256 FROM entry WHERE receipt = :code", code=code) == [
        (_sha(photo),)
    ]
    _excuse_refused_requests(browsing)


def _excuse_refused_requests(browsing) -> None:
    """What a refused request logs in the console is expected here, and only that."""
    browsing.watch.problems[:] = [
        p for p in browsing.watch.problems if "ERR_CONNECTION_REFUSED" not in p
    ]
