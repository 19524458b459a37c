"""PostgreSQL: pg_dump of an exported snapshot, restored with pg_restore into an empty database.

The backup opens a REPEATABLE READ, READ ONLY transaction, exports its snapshot, reads the asset
rows and the entry count in it, and runs `pg_dump --snapshot` while it stays open: the dump and
the list of files to copy are the same moment of the database, and uploads carry on meanwhile
(a read-only transaction blocks no writer). The client tools come from PATH, else the newest
/usr/lib/postgresql/*/bin; the password, if the URL has one, reaches them in PGPASSWORD only.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import make_url

from contest.services.backup.common import ASSETS, BackupError, Manifest, Snapshot, seal

TOOL_FOLDERS = "/usr/lib/postgresql/*/bin"
# Everything in the public schema that a restore would create again, as DROP statements
# (members of extensions stay: they belong to the extension, not to the app).
_DROP_PUBLIC = """
SELECT format('DROP %s IF EXISTS %s CASCADE', kind, name) FROM (
    SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
               WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END AS kind,
           format('public.%I', c.relname) AS name, 'pg_class'::regclass AS catalog, c.oid
    FROM pg_class c
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    UNION ALL
    SELECT 'TYPE', format('public.%I', t.typname), 'pg_type'::regclass, t.oid
    FROM pg_type t
    WHERE t.typnamespace = 'public'::regnamespace
      AND (t.typtype IN ('e', 'd', 'r')
           OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
    UNION ALL
    SELECT 'ROUTINE', format('public.%I(%s)', p.proname, oidvectortypes(p.proargtypes)),
           'pg_proc'::regclass, p.oid
    FROM pg_proc p
    WHERE p.pronamespace = 'public'::regnamespace AND p.prokind <> 'a'
) o
WHERE NOT EXISTS (
    SELECT FROM pg_depend d WHERE d.classid = o.catalog AND d.objid = o.oid AND d.deptype = 'e'
)
ORDER BY kind = 'ROUTINE', kind = 'TYPE'
"""


def client_settings(uri: str) -> tuple[str, dict[str, str]]:
    """The libpq connection string of a database URL, without its password, and the
    environment for a client tool: the password (if the URL has one) goes in PGPASSWORD."""
    url = make_url(uri)
    params = url.translate_connect_args(username="user", database="dbname")
    params.update({k: v for k, v in url.query.items() if isinstance(v, str)})
    password = params.pop("password", None)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password
    return make_conninfo(**params), env


def find_tool(name: str, at_least: int, why: str) -> tuple[str, str]:
    """The path and version of a PostgreSQL client tool (PATH first, then the newest of
    /usr/lib/postgresql/*/bin), refusing one whose major version is below `at_least`."""
    tool = shutil.which(name)
    if tool is None:
        folders = sorted(glob.glob(TOOL_FOLDERS), key=_folder_version, reverse=True)
        tool = next((f"{d}/{name}" for d in folders if os.access(f"{d}/{name}", os.X_OK)), None)
    if tool is None:
        raise BackupError(
            f"{name} not found on PATH or in {TOOL_FOLDERS}: install the PostgreSQL client"
            f" tools, version {at_least} or newer (Debian: postgresql-client-{at_least})."
        )
    try:
        answer = subprocess.run(
            [tool, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as failed:
        raise BackupError(f"cannot run {tool}: {failed}") from None
    found = re.search(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?", answer)
    if found is None:
        raise BackupError(f"{tool} --version said {answer.strip()!r}, not a PostgreSQL version.")
    version = found.group(0).split()[-1]
    if int(found.group(1)) < at_least:
        raise BackupError(
            f"{tool} is version {version}, older than {why} ({at_least}): install the"
            f" PostgreSQL {at_least} client tools (Debian: postgresql-client-{at_least})."
        )
    return tool, version


class PostgresDatabase:
    """A site's PostgreSQL database, as the backup flow sees it."""

    engine = "postgresql"
    label = "PostgreSQL"
    dump_file = "contest.dump"
    format = 2

    def __init__(self, uri: str) -> None:
        self.name = make_url(uri).database
        self.conninfo, self.env = client_settings(uri)

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(self.conninfo, password=self.env.get("PGPASSWORD"))
        except psycopg.OperationalError as why:
            raise BackupError(f"cannot connect to the database {self.name}: {why}") from None

    def _tool(
        self, name: str, conn: psycopg.Connection, dumped_by: str | None = None
    ) -> tuple[str, str, int]:
        """A client tool at least as new as the server (and, for pg_restore, as the pg_dump
        that made the archive: an older pg_restore may not read a newer archive)."""
        at_least, why = conn.info.server_version // 10000, "the server's"
        if dumped_by is not None and int(dumped_by.split(".")[0]) > at_least:
            at_least, why = int(dumped_by.split(".")[0]), "the pg_dump that made the backup"
        tool, version = find_tool(name, at_least, why)
        return tool, version, conn.info.server_version

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            [tool, "--no-password", f"--dbname={self.conninfo}", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise BackupError(
                f"{Path(tool).name} failed (exit {done.returncode}): {done.stderr.strip()}"
            )

    def check_source(self) -> None:
        with self._connect() as conn:
            self._tool("pg_dump", conn)

    def snapshot(self, target: Path) -> Snapshot:
        """Dump the database as of one exported snapshot, and read its assets in that snapshot."""
        with self._connect() as conn:
            tool, version, server = self._tool("pg_dump", conn)
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            snapshot_id = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
            assets = [tuple(row) for row in conn.execute(ASSETS)]
            entries = conn.execute("SELECT count(*) FROM entry").fetchone()[0]
            # The snapshot lives as long as this transaction: pg_dump runs before it ends.
            self.dump(tool, snapshot_id, target)
            conn.rollback()
        seal(target)
        about = {"pg_dump_version": version, "server_version": _version_text(server)}
        return Snapshot(assets=assets, entries=entries, about=about)

    def dump(self, tool: str, snapshot_id: str, target: Path) -> None:
        self._run(
            tool,
            f"--snapshot={snapshot_id}",
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            f"--file={target}",
        )

    def check_dump(self, dump: Path, manifest: Manifest) -> list[str]:
        """pg_restore can read the archive, and it holds the entries' and assets' data."""
        with self._connect() as conn:
            tool, _, _ = self._tool("pg_restore", conn, manifest.about.get("pg_dump_version"))
        listing = subprocess.run(
            [tool, "--list", str(dump)], capture_output=True, text=True, check=False
        )
        if listing.returncode != 0:
            return [f"{dump.name}: pg_restore cannot read it: {listing.stderr.strip()}"]
        data = re.findall(r"TABLE DATA public (\w+) ", listing.stdout)
        if not {"entry", "asset"} <= set(data):
            return [f"{dump.name}: holds no entry or asset data"]
        return []

    def occupied(self) -> list[str]:
        with self._connect() as conn:
            tables = [row[0] for row in conn.execute(_TABLES)]
        if not tables:
            return []
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        return [f"{len(tables)} tables in the database {self.name} ({shown})"]

    def clear(self) -> None:
        """Drop what the public schema holds (the schema itself, and its grants, stay)."""
        try:
            with self._connect() as conn, conn.transaction():
                for (statement,) in conn.execute(_DROP_PUBLIC).fetchall():
                    conn.execute(statement)
        except psycopg.Error as why:
            raise BackupError(f"cannot empty the database {self.name}: {why}") from None

    def load(self, dump: Path) -> None:
        with self._connect() as conn:
            tool, _, _ = self._tool("pg_restore", conn)
        self._run(tool, "--single-transaction", "--exit-on-error", "--no-owner", str(dump))

    def check_restored(self, manifest: Manifest) -> list[str]:
        with self._connect() as conn:
            keys = {row[0] for row in conn.execute("SELECT key FROM asset")}
            entries = conn.execute("SELECT count(*) FROM entry").fetchone()[0]
        bad = []
        if keys != manifest.listed:
            bad.append(
                f"database {self.name}: {len(keys - manifest.listed)} assets the manifest does"
                f" not list, {len(manifest.listed - keys)} it lists are absent"
            )
        if entries != manifest.entries:
            bad.append(
                f"database {self.name}: {entries} entries, the manifest says {manifest.entries}"
            )
        return bad


_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"


def _folder_version(folder: str) -> tuple[int, ...]:
    name = Path(folder).parent.name
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _version_text(server_version: int) -> str:
    return f"{server_version // 10000}.{server_version % 10000}"
