"""Receipt codes and admin searches never reach a log line.

A receipt code alone can withdraw an entry, and an admin's search holds an entrant's name, so
every line gunicorn logs (access and error) and every line nginx writes to its error log goes
through `mask`: the code in `/receipt/<code>...` (the codes in `/receipts/<codes>`) becomes
`***`, the whole query string of `/receipt` and `/admin/...` URLs becomes `***`, and so do the
values of `code`, `q` and `next` (a `next` can carry either) in any other URL. It works on
whole lines, so the request line, the path, the query and the referrer are all covered
whatever the log format.

`python -m server.logmask` copies its standard input to its standard error, masked (nginx's
error log goes through it; see gunicorn_conf.py), and when its input ends (nginx has stopped)
it stops gunicorn, so the site never runs half up.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sys

from gunicorn.glogging import Logger

HIDDEN = "***"
# A URL as it appears in a log line: optional scheme and host, a path, an optional query.
_URL = re.compile(
    r"(?P<origin>(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?//[^/\s\"']*)?"
    r"(?P<path>/[^\s\"'?]*)(?:\?(?P<query>[^\s\"'#]*))?"
)
_RECEIPT_CODE = re.compile(r"(/receipts?/)[^/]+", re.IGNORECASE)
_PRIVATE_PATHS = re.compile(r"^/(?:receipts?|admin)(?:/|$)", re.IGNORECASE)
_SECRET_PARAMS = {"code", "q", "next"}


def _mask_query(query: str) -> str:
    parts = []
    for part in query.split("&"):
        name, sep, _value = part.partition("=")
        parts.append(f"{name}={HIDDEN}" if sep and name.lower() in _SECRET_PARAMS else part)
    return "&".join(parts)


def _mask_url(match: re.Match) -> str:
    origin = match["origin"] or ""
    path = _RECEIPT_CODE.sub(rf"\1{HIDDEN}", match["path"])
    query = match["query"]
    if query is None:
        return origin + path
    if _PRIVATE_PATHS.match(match["path"]):
        return f"{origin}{path}?{HIDDEN}"
    return f"{origin}{path}?{_mask_query(query)}"


def mask(text: str) -> str:
    """`text` with receipt codes and the query strings of admin searches replaced by ***."""
    return _URL.sub(_mask_url, text)


class MaskFilter(logging.Filter):
    """Masks the finished message of every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage())
        record.args = None
        return True


class MaskingLogger(Logger):
    """gunicorn's logger (`logger_class`), with its access and error logs masked."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, MaskFilter) for f in log.filters):
                log.addFilter(MaskFilter())


def main() -> int:
    """Copy stdin to stderr masked; with `--stop PID`, at the end of the input stop our parent
    PID (gunicorn's master) if it still is our parent."""
    # Ctrl-C (SIGINT) or a stop of the whole process group (SIGTERM: systemd, a test) reaches
    # nginx and us at the same moment: we end at the end of nginx's output, so its last lines
    # (a refused request's, say) are still copied. gunicorn waits for us when it exits.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for line in sys.stdin.buffer:
        sys.stderr.write(mask(line.decode("utf-8", "replace")))
        sys.stderr.flush()
    args = sys.argv[1:]
    if args[:1] == ["--stop"] and os.getppid() == int(args[1]):  # still running: stop it
        os.kill(int(args[1]), signal.SIGTERM)
    return 0


if __name__ == "__main__":
    sys.exit(main())
