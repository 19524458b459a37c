"""Browser fixtures: the real site (gunicorn and its job worker) and Debian's Chromium.

One site serves the whole e2e session: `flask init-db`, staff made with `flask create-user` (both
run in this process, `flask_in_process`), then gunicorn and `flask worker` in their own process
groups on the loopback, all under a temporary folder. Every page a test opens is watched: a
console error, an uncaught exception or a CSP violation fails the test, except the "Failed to
load resource" line of a refusal the test said it expects
(`watch.expect_refusal(415, "/submit")`). Screenshots go to `artifacts/e2e/`.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import create_engine, text

from .. import databases
from ..photos import photo_bytes
from ..server_helpers import (
    HOST,
    PROJECT_ROOT,
    TIMEOUT,
    VENV_BIN,
    Visitor,
    flask_in_process,
    free_port,
    query,
    server_command,
    site_env,
    visitor_fields,
)

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = PROJECT_ROOT / "artifacts" / "e2e"

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
    "locale": "ko-KR",
}
DESKTOP = {"viewport": {"width": 1280, "height": 800}, "locale": "ko-KR"}
LAPTOP_1440 = {"viewport": {"width": 1440, "height": 900}, "locale": "ko-KR"}

JUDGES = ("judge1", "judge2", "judge3", "judge4")
ADMIN = "e2e-admin"
PASSWORD = "e2e-correct-horse-battery"

_visitor_numbers = itertools.count(7000)  # a phone and e-mail no other entry of the session uses


# The site ------------------------------------------------------------------------------------
@dataclass
class Site:
    """The running site: where it lives, how to reach it, and its staff accounts."""

    root: Path
    env: dict[str, str]
    port: int
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def database(self) -> str:
        return self.env["CONTEST_SQLALCHEMY_DATABASE_URI"]

    @property
    def server_log(self) -> Path:
        return self.root / "gunicorn.log"

    @property
    def worker_log(self) -> Path:
        return self.root / "worker.log"

    def logs(self) -> str:
        return "".join(
            f"--- {p.name} ---\n{p.read_text(errors='replace')[-4000:]}\n"
            for p in (self.server_log, self.worker_log)
            if p.exists()
        )

    def query(self, sql: str, **params) -> list[tuple]:
        """Read the site's database directly (what the pages claim, checked at the source)."""
        return query(self.database, sql, **params)

    def execute(self, sql: str, rows: list[dict]) -> None:
        """Write to the site's database (test set-up only, e.g. other judges' scores)."""
        engine = create_engine(self.database)
        try:
            with engine.begin() as conn:
                conn.execute(text(sql), rows)
        finally:
            engine.dispose()

    def add_photo_entry(self, title: str | None = None) -> str:
        """Enter a fresh photo the quick way (multipart over HTTP); returns its receipt code."""
        n = next(_visitor_numbers)
        fields = visitor_fields(n)
        if title:
            fields["title"] = title
        with Visitor(self.port) as visitor:
            response = visitor.post_entry(fields, photo_bytes(seed=n))
        assert response.status == 201, response.text
        return json.loads(response.body)["receipt"]


def _spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: one signal stops it and its children
        )


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the process group, SIGKILL it if it has not gone after 20 s."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        except ProcessLookupError:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # stragglers of the group, if any
    except (ProcessLookupError, PermissionError):
        pass
    process.wait(timeout=TIMEOUT)


def _wait_until_ready(site: Site, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{site.logs()}")
        try:
            with Visitor(site.port) as visitor:
                if visitor.get("/").status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"gunicorn did not answer within {TIMEOUT} s\n{site.logs()}")


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Iterator[Site]:
    """A freshly initialised site, served by gunicorn with a job worker beside it."""
    root = tmp_path_factory.mktemp("e2e-site")
    env = site_env(root)  # CSRF on, HUEY_IMMEDIATE false, instance and uploads under root

    flask_in_process(
        env,
        ("init-db",),
        *(("create-user", name, "--role", "judge", "--password", PASSWORD) for name in JUDGES),
        ("create-user", ADMIN, "--role", "admin", "--password", PASSWORD),
    )

    site = Site(root, env, free_port())
    try:
        site.processes.append(
            _spawn([str(VENV_BIN / "flask"), "--app", "wsgi", "worker"], env, site.worker_log)
        )
        server = _spawn(
            server_command("--workers", "1"),  # as `make run` (nginx in front), one worker
            {**env, "PORT": str(site.port)},
            site.server_log,
        )
        site.processes.append(server)
        _wait_until_ready(site, server)
        yield site
    finally:
        for process in reversed(site.processes):
            _stop(process)
        databases.drop_site(root)


# The browser ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


_FAILED_LOAD = re.compile(r"^Failed to load resource: the server responded with a status of (\d+)")


class Watch:
    """What the browser complained about on the pages of one test."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self._expected: list[tuple[int, str]] = []

    def expect_refusal(self, status: int, path: str) -> None:
        """Allow one "Failed to load resource" line: `status` answered for exactly `path`."""
        self._expected.append((status, path))

    def attach(self, page) -> None:
        page.on("console", lambda message: self._console(page, message))
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: uncaught {error}"))

    def _console(self, page, message) -> None:
        if message.type != "error":
            return
        text, url = message.text, (message.location or {}).get("url", "")
        failed = _FAILED_LOAD.match(text)
        if failed:
            wanted = (int(failed.group(1)), urlparse(url).path)
            if wanted in self._expected:
                self._expected.remove(wanted)  # each expected refusal excuses one line
                return
        # CSP violations arrive here too ("Refused to load/execute ... Content Security Policy").
        self.problems.append(f"{page.url}: console error: {text} [{url}]")


@dataclass
class Browsing:
    """Opens watched pages for one test and keeps its screenshots."""

    browser: object
    site: Site
    test_name: str
    watch: Watch = field(default_factory=Watch)
    contexts: list = field(default_factory=list)
    shots: int = 0

    def page(self, device: dict | None = None, **options):
        """A new page in a fresh browser profile (own cookies): PHONE by default, or DESKTOP."""
        context = self.browser.new_context(
            base_url=self.site.url, **{**(device or PHONE), **options}
        )
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        page = context.new_page()
        self.watch.attach(page)
        return page

    def shot(self, page, step: str) -> Path:
        """A full-page screenshot in artifacts/e2e/, numbered in the order the test took them.

        One image pixel per CSS pixel (a phone page is 390 px wide, as the layout sees it): at
        the phone's device scale of 3, Chromium took 1.2 s to paint and encode a long page
        whole, 0.2 s at this scale; the browser tests take 46 of them."""
        self.shots += 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.test_name}-{self.shots:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True, scale="css")
        return path

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def browsing(browser, site, request) -> Iterator[Browsing]:
    """Watched pages for this test; fails it on console errors, uncaught errors, CSP
    violations or a traceback in the server's or the worker's log."""
    logs = (site.server_log, site.worker_log)
    log_starts = [log.stat().st_size if log.exists() else 0 for log in logs]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
    session = Browsing(browser, site, name)
    try:
        yield session
    finally:
        session.close()
    for log, start in zip(logs, log_starts, strict=True):
        with open(log, "rb") as f:
            f.seek(start)
            written = f.read().decode(errors="replace")
        assert "Traceback" not in written, f"{log.name}:\n{written}"
    assert session.watch.problems == [], "\n".join(session.watch.problems)


# Helpers the scenarios share -------------------------------------------------------------------
def login(page, username: str, password: str = PASSWORD) -> None:
    """Sign in through /login and wait for the page it leads to."""
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert "/login" not in page.url, page.content()


def run_axe(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now.

    The script goes in through the DevTools protocol (page.evaluate), which the page's strict
    CSP does not block, unlike a <script> tag would be.
    """
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci --prefix tests/e2e` (make test does)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    checked = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            const ran = [...result.violations, ...result.passes, ...result.incomplete];
            return {ran: ran.map(r => r.id), violations: result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map(n => ({target: n.target.join(" "), summary: n.failureSummary,
                                          html: n.html.slice(0, 200)})),
            }))};
        }"""
    )
    # Contrast must really be checked: a page where the rule was disabled, or found nothing to
    # check, would pass silently.
    assert "color-contrast" in checked["ran"], f"axe did not check colour contrast on {page.url}"
    return [v for v in checked["violations"] if v["impact"] in ("serious", "critical")]


def describe_violations(url: str, violations: list[dict]) -> str:
    lines = [f"axe on {url}: {len(violations)} serious/critical violation(s)"]
    for v in violations:
        lines.append(f"- [{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:5]:
            lines.append(f"    {node['target']}: {node['html']}")
            lines.append("      " + (node["summary"] or "").replace("\n", "\n      "))
    return "\n".join(lines)


def wait_for(check: Callable[[], object], seconds: float, what: str):
    """Poll `check` until it returns something truthy; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {seconds} s waiting for {what}")
        time.sleep(0.5)
