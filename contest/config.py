"""Default settings; `CONTEST_*` environment variables and `create_app(test_config)` override them.

Paths that depend on where the app runs (the database in the instance folder, the upload folder
beside the package) are filled in by `create_app` when they are left as None here.
"""

# Where things live. None means "the default place" (see the module docstring).
SQLALCHEMY_DATABASE_URI = None
UPLOAD_FOLDER = None
SECRET_KEY = None

# Photos: judged by content; these are the limits a visitor can meet.
PHOTO_MAX_BYTES = 40 * 1024 * 1024
PHOTO_MAX_PIXELS = 100_000_000
PHOTO_MIN_LONG_SIDE = 1000
# Photo decoding runs in child processes capped in time and memory (contest/media/photo_worker):
# the memory the photo decodes of one server (all its worker processes) may hold at once, each
# reserving its estimate from the headers; and how long one decode, waiting for room included,
# may take before the visitor is told the file costs too much (seconds).
PHOTO_DECODE_MEMORY_BYTES = 1536 * 1024 * 1024  # two 48 MP HEIC photos (~576 MB each) at once
PHOTO_DECODE_TIMEOUT = 20
# Provenance (C2PA manifest, AI-generation markers, screenshot hints) is read from each original
# in the same capped children, within the same budget: the memory one reading may hold and how
# long it may take (seconds). Past either, the entry is accepted with a "provenance_unreadable"
# flag, never refused.
PROVENANCE_MEMORY_BYTES = 256 * 1024 * 1024
PROVENANCE_TIMEOUT = 10
# A PEM file of the CA certificates whose C2PA signers count as trusted (such as the C2PA trust
# list, downloaded by the operator). None: no signer is trusted, so a manifest that verifies is
# shown as "untrusted signer" (never flagged); one that does not verify is flagged either way.
C2PA_TRUST_ANCHORS = None

# Videos: phone clips, probed in a child process with a time limit (seconds).
VIDEO_MAX_BYTES = 500 * 1024 * 1024
VIDEO_MAX_SECONDS = 180
VIDEO_MIN_SECONDS = 1
VIDEO_PROBE_TIMEOUT = 30
# A 3-minute 4K clip takes minutes to transcode on two cores. Each copy's time budget is a
# minute plus VIDEO_TRANSCODE_SECONDS_PER_SECOND per second of the checked duration (a 3 s
# clip gets 2 minutes, not half an hour of the worker), never more than the timeout.
VIDEO_TRANSCODE_TIMEOUT = 30 * 60
VIDEO_TRANSCODE_SECONDS_PER_SECOND = 20
# The admin dashboard warns when the disk holding the uploads has less free space than this:
# ten of the largest videos, and room for the spooled uploads in flight.
DISK_FREE_WARNING_BYTES = 5 * 1024**3
# Resumable (tus) uploads: how long an upload may take from its start, finished or not, before
# it answers 410 and the worker (or `doctor --repair`) removes it (seconds).
UPLOAD_EXPIRY = 24 * 3600
# S3 storage: how long one PATCH may hold its upload while its piece goes to the bucket (the
# other PATCHes of that upload get 409 meanwhile). It only matters when a server died halfway:
# then that upload takes pieces again after this long (seconds; a piece takes well under one).
UPLOAD_PIECE_LEASE = 120

# Background jobs (huey). None: a SQLite queue in the instance folder; "redis://..." for a
# Redis queue shared by several machines. HUEY_IMMEDIATE None means "immediate when TESTING",
# so tests run jobs synchronously and deterministically.
HUEY_URL = None
# The queue's name: sites that share one Redis (several agencies on one server) each need their own.
HUEY_NAME = "contest"
HUEY_IMMEDIATE = None
HUEY_WORKERS = 1  # transcoding uses both cores by itself
# The longest an idle worker waits before it looks at the queue again (seconds). huey backs off
# to 10 s by default: a remuxed H.264 video, ready in well under a second, would then wait up
# to 10 s for its job to start. Half a second of polling an idle SQLite file costs nothing.
HUEY_POLL_SECONDS = 0.5

# A request may be a little larger than the biggest file it may carry: the form fields and the
# multipart framing come with it. None: derived from the photo and video limits by `create_app`.
MAX_CONTENT_LENGTH = None
# Werkzeug's limits for the non-file part of a form: our text fields are small (≤ 1000 chars)
# and few, so anything bigger is an attack or a mistake (CVE-2023-25577, CVE-2024-49767).
# The memory limit must stay well above the multipart parser's 64 KiB read size: Werkzeug also
# applies it to its parse buffer, and at 64 KiB ordinary photos were refused as too large.
MAX_FORM_MEMORY_SIZE = 256 * 1024
MAX_FORM_PARTS = 50

# Entries: one person (same normalised phone or e-mail) may enter this many times per contest,
# unless the contest's own limit is set on /admin/contest.
MAX_ENTRIES_PER_ENTRANT = 3

# The address visitors reach the site at, such as "https://contest.example.kr": the poster's QR
# code and every absolute link use it. None: the host of the request in use (the poster warns).
# A value saved on /admin/contest (or with `flask contest set public_url`) wins over this one.
PUBLIC_URL = None

# E-mail: receipts on acceptance, receipt links on request (/receipt/recover), winners on
# publication, all sent by the job worker (retried). Mail is off, and the log and the admin
# dashboard say so, while MAIL_SERVER or MAIL_FROM is unset. MAIL_USE_TLS: STARTTLS on
# MAIL_PORT (587); MAIL_USE_SSL: TLS from the first byte (465). A login only with a username.
MAIL_SERVER = None
MAIL_PORT = 587
MAIL_USE_TLS = True
MAIL_USE_SSL = False
# The certificate authorities that vouch for the SMTP server's TLS certificate (a PEM file):
# None trusts the system's store. For a server with a private or self-signed certificate, the
# file holding that CA (or the certificate itself); its name must still match MAIL_SERVER.
MAIL_CA_FILE = None
MAIL_USERNAME = None
MAIL_PASSWORD = None
MAIL_FROM = None  # "정부3.0 체험마당 <contest@example.kr>"
MAIL_TIMEOUT = 20  # seconds for the SMTP server to answer
# A mail the server did not take is tried again this many times, this many seconds apart.
MAIL_RETRIES = 6
MAIL_RETRY_DELAY = 300
# Asking for one's receipt links again: per address, and per contact typed (whoever asks).
RECOVER_RATE_LIMIT = "10 per minute;50 per hour"
RECOVER_TARGET_RATE_LIMIT = "3 per hour;10 per day"

# The personal-information notice the visitor consents to; change the version whenever its text
# changes, so each entry records which text was agreed to.
# 2026-12-v2 added the declaration that the entrant took the work and did not make it with AI.
CONSENT_NOTICE_VERSION = "2026-12-v2"
# How long entrants' personal data is kept after the results are announced, as the notice says.
# Shown through `_()`: its English is in the catalogue under this exact Korean text (listed for
# extraction in submit.py); a changed value shows as written until it is translated too.
RETENTION_AFTER_RESULTS = "결과 발표 후 1년"

# The region phone numbers without a country code are read in.
PHONE_DEFAULT_REGION = "KR"

SQLALCHEMY_ENGINE_OPTIONS: dict = {}
WTF_CSRF_TIME_LIMIT = None  # a visitor may take a long time over the form on a crowded day
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_HTTPONLY = True

# Thumbnails and previews never change under a given name, so browsers may keep them for a year.
MEDIA_CACHE_SECONDS = 365 * 24 * 3600

# Staff accounts. scrypt at OWASP's cost (N = 2^16, r = 8, p = 1); Werkzeug's default is 2^15.
PASSWORD_HASH_METHOD = "scrypt:65536:8:1"
# Failed logins allowed within the window before answering 429: per account from one address,
# and per address for names that are not accounts (a right password from that address still
# signs in: the venue's judges share a few public addresses).
LOGIN_MAX_FAILURES = 5
LOGIN_FAILURE_WINDOW_SECONDS = 15 * 60
# The ceiling for one account from every address together within the window: at it the account
# answers 429 everywhere until the window passes or an admin sets a new password, and the
# admins are told (an audit entry, a warning on their dashboard).
LOGIN_ACCOUNT_MAX_FAILURES = 50

# Judging: how many judges should see each entry (a round's own quorum, set on its jury
# page, wins).
QUORUM = 3
# The judging pace is the scores given over this recent window (seconds; never reaching back
# before the round opened): it sizes a quorum change in hours and tells who is behind schedule.
JURY_PACE_WINDOW = 3 * 3600

# Award tiers per category, in order: [slug, name, how many]. The default: a category's own
# tiers, once saved on /admin/contest, win over these.
AWARD_TIERS = [
    ["grand", "대상", 1],
    ["gold", "최우수상", 1],
    ["silver", "우수상", 2],
    ["bronze", "장려상", 3],
]

# The public gallery and the people's-choice vote (인기상). Each vote card (token) casts at
# most this many votes, at most one per entry; the voting window is a contest setting.
VOTES_PER_TOKEN = 3
# Entries per gallery page: thumbnails only, so a phone on the venue's network loads it quickly.
GALLERY_PER_PAGE = 24
# Vote cards one press of "make cards" (or one `flask vote-tokens`) may make at once.
VOTE_TOKENS_MAX_BATCH = 1000
# How many people's-choice awards (인기상) each category gives, proposed from the vote counts.
PEOPLES_CHOICE_AWARDS = 1
# Shown to admins as suspicious, never voided by themselves: a card that cast this many votes
# (or all of its VOTES_PER_TOKEN, if fewer) within this many seconds, and an address (hashed)
# that this many cards or more voted from. The venue's visitors share a few public addresses,
# so the second is a hint to look, not proof.
SUSPICIOUS_VOTE_BURST = 3
SUSPICIOUS_VOTE_BURST_SECONDS = 10
SUSPICIOUS_TOKENS_PER_ADDRESS = 10

# Security. Behind HTTPS set SESSION_COOKIE_SECURE to true; behind nginx set PROXY_FIX_HOPS to
# the number of proxies in front (1), so client addresses and the scheme come from them.
SESSION_COOKIE_SECURE = False
PROXY_FIX_HOPS = 0
HSTS_SECONDS = 365 * 24 * 3600
# Rate limits (Flask-Limiter). The whole venue reaches us from a few shared public addresses,
# so the upload limit per address is generous: it stops a runaway script, not a busy booth.
# memory:// counts per server process; use redis://... with several workers or machines.
RATELIMIT_ENABLED = True
RATELIMIT_STORAGE_URI = "memory://"
# Flask-Limiter's key prefix: sites that share one Redis keep their counters apart with it.
RATELIMIT_KEY_PREFIX = "contest"
# When the counters' store (Redis) cannot be reached, count in each process's memory meanwhile
# rather than answer visitors with errors: a limit is a guard, never a reason to lose an entry.
RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
RATELIMIT_SWALLOW_ERRORS = True
RATELIMIT_HEADERS_ENABLED = True
SUBMIT_RATE_LIMIT = "60 per minute;1000 per hour"
LOGIN_RATE_LIMIT = "30 per minute"
# Votes per address: far above what the venue's visitors cast by hand from one shared address
# (each card holds VOTES_PER_TOKEN votes), low enough to stop a script trying cards.
VOTE_RATE_LIMIT = "30 per minute;600 per hour"

# Eligibility flags (shown to admins, never rejections): pHash distance for near-duplicates
# (a resized or re-encoded copy measured 0-4 bits, unrelated photos 16 or more), and the
# resolution below which a photo's long side or a video's short side is flagged.
NEAR_DUPLICATE_DISTANCE = 6
FLAG_MIN_LONG_SIDE = 2000
FLAG_MIN_VIDEO_SHORT_SIDE = 720

# Where entry files live. None: in UPLOAD_FOLDER on this machine. "s3://bucket/optional/prefix":
# in an S3-compatible object store that several app servers share (uploads in flight still
# spool to UPLOAD_FOLDER/tmp on each server). Credentials come from boto3's usual chain
# (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ~/.aws, an instance role), never from here.
STORAGE_URL = None
# None: AWS itself. MinIO, Ceph or another S3-compatible store: its address, such as
# "http://127.0.0.1:9000" (addressed path-style: http://host/bucket/key).
S3_ENDPOINT_URL = None
# The bucket's region; None: boto3's own choice (AWS_DEFAULT_REGION, ~/.aws/config).
S3_REGION = None

# The booth's live wall (/wall). Showing an entry is opt-in for a government fair: an admin
# approves each on /admin/wall, unless WALL_AUTO_APPROVE puts every entry whose entrant agreed to
# publication on display as it arrives.
WALL_AUTO_APPROVE = False
# Open walls follow /wall/events (Server-Sent Events), and each open stream holds one of a
# gunicorn worker's threads (4) for its whole life: at most this many per worker process, so
# uploads and judging always keep threads of their own. Walls beyond it poll /wall/events.json
# every WALL_POLL_SECONDS instead (see core/wall_stream.py).
WALL_STREAMS_PER_WORKER = 2
# A stream ends after this long (give or take a tenth, so walls do not all come back at once)
# and the browser reconnects, resuming from the last event it saw: a wall that stayed open all
# day never pins one thread, and a worker restart never strands a wall.
WALL_STREAM_MAX_SECONDS = 300
# A comment line this often keeps proxies (nginx: proxy_read_timeout) from closing a quiet stream
# and lets the server notice a wall that went away (only a write does): its slot is free again
# within this time, for the wall reconnecting after a network drop.
WALL_HEARTBEAT_SECONDS = 5
# How often each worker process reads the event log (for all its streams and polls together,
# core/wall_feed.py), and how often a wall without a stream polls: both well inside the 2
# seconds in which a change must reach every wall.
WALL_EVENT_POLL_SECONDS = 0.5
WALL_POLL_SECONDS = 1.5
# How many entries a wall loads: the newest, and the older ones it cycles through slowly.
WALL_MAX_ENTRIES = 200
