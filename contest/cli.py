"""Command-line tasks: `flask --app wsgi init-db | create-user | doctor [--repair] | worker |
leaderboard | export-winners | purge-personal-data | backup | restore | contest show|set |
vote-tokens`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade
from sqlalchemy import select

from contest.core import jobs
from contest.core.database import write_transaction
from contest.core.extensions import db
from contest.core.formatting import SEOUL
from contest.core.refusal import Refusal
from contest.models import Contest, Round, utcnow
from contest.services import (
    accounts,
    contest_settings,
    contests,
    doctor,
    exports,
    jury,
    purge,
    ranking,
    votes,
)
from contest.services.audit import audit
from contest.services.contests import seed_fair_contest
from contest.services.rounds import seed_first_round
from contest.storage import get_storage


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Apply the database migrations and seed the fair's contest (safe to run again)."""
    upgrade()
    # Every command that writes takes the write lock up front (`write_transaction`), as the
    # views do: run beside a live site or another command, a read that turns into a write
    # would otherwise fail at once with "database is locked".
    with write_transaction():
        contest = seed_fair_contest(utcnow())
        opened = [c.title for c in db.session.scalars(select(Contest)) if seed_first_round(c)]
        password = accounts.ensure_first_admin()
    if contest is None:
        click.echo("Database up to date; the contest already exists.")
    else:
        click.echo(f"Database ready; seeded '{contest.title}'.")
    for title in opened:
        click.echo(f"Opened the first judging round of '{title}'.")
    if password is not None:
        click.echo(
            "Created the account 'admin' with the password below. It is shown only this once:"
            f"\n\n    {password}\n\nSign in at /login and add each judge's own account."
        )


@click.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(accounts.ROLES), required=True)
@click.option("--password", help="Omit to be asked twice, without it showing.")
@with_appcontext
def create_user_command(username: str, role: str, password: str | None) -> None:
    """Add a judge or an admin account."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with write_transaction():
            accounts.create_user(username, role, password)
    except accounts.AccountError as why:
        raise click.ClickException(str(why)) from None
    click.echo(f"Created {role} '{username}'.")


@click.command("doctor")
@click.option("--repair", is_flag=True, help="Remove orphans and temp files, rebuild derivatives.")
@with_appcontext
def doctor_command(repair: bool) -> None:
    """Check that every entry has its files and every stored file belongs to an entry."""
    storage = get_storage()
    problems = doctor.examine(storage)
    for problem in problems:
        click.echo(f"{problem.kind}: {problem.detail}")
    if repair and problems:
        result = doctor.repair(storage, problems)
        db.session.commit()
        for entry_id in result.requeue:
            jobs.enqueue_playback(entry_id)
        fixed = len(problems) - len(result.remaining)
        click.echo(f"Repaired {fixed} of {len(problems)} problems.")
        problems = result.remaining
        for problem in problems:
            click.echo(f"cannot repair: {problem.kind}: {problem.detail}", err=True)
    if problems:
        raise SystemExit(1)
    click.echo("No problems found." if not repair else "Storage and database agree.")


@click.command("worker")
@click.option("--workers", type=int, help="Jobs run at once (default: HUEY_WORKERS).")
@with_appcontext
def worker_command(workers: int | None) -> None:
    """Run the background jobs (video playback copies) until stopped."""
    count = workers or current_app.config["HUEY_WORKERS"]
    poll = current_app.config["HUEY_POLL_SECONDS"]
    jobs.queue().create_consumer(workers=count, worker_type="thread", max_delay=poll).run()


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(init_db_command)
    app.cli.add_command(doctor_command)
    app.cli.add_command(worker_command)
    app.cli.add_command(create_user_command)
    app.cli.add_command(leaderboard_command)
    app.cli.add_command(export_winners_command)
    app.cli.add_command(purge_personal_data_command)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(contest_group)
    app.cli.add_command(vote_tokens_command)


@click.command("leaderboard")
@click.option("--round", "number", type=int, help="Round number (default: the open or latest).")
@click.option(
    "--csv", "csv_path", type=click.Path(dir_okay=False), help="Write the CSV export here."
)
@with_appcontext
def leaderboard_command(number: int | None, csv_path: str | None) -> None:
    """Print a round's ranking (the admin page's), or write its CSV export."""
    contest = contests.find_current_contest()
    round_ = None
    if contest is not None and number is not None:
        round_ = db.session.scalar(
            select(Round).where(Round.contest_id == contest.id, Round.number == number)
        )
    elif contest is not None:
        round_ = ranking.results_round(contest)
    if round_ is None:
        raise click.ClickException("No such round.")
    quorum = jury.quorum_of(round_)
    standings = ranking.leaderboard(round_, quorum)
    if csv_path:
        Path(csv_path).write_bytes(exports.round_leaderboard_csv(round_, quorum))
        target = f"round:{round_.id}"
        with write_transaction():
            audit(None, "export-leaderboard", target, None, {"format": "csv", "via": "cli"})
        click.echo(f"Wrote {len(standings)} rows of {round_.name} to {csv_path}.")
        return
    click.echo(f"{round_.name} ({round_.method}, {round_.status}) · quorum {quorum}")
    for category, rows in ranking.by_category(standings):
        click.echo(f"\n[{category}]")
        click.echo("rank  receipt          scores   mean  stdev  spread  norm  title")
        for s in rows:
            rank = "-" if s.rank is None else str(s.rank)
            mark = "  (below quorum)" if s.below_quorum else ""
            click.echo(
                f"{rank:>4}  {s.receipt_display:<15}  {s.scores:>6}  {_num(s.mean):>5}"
                f"  {_num(s.stdev):>5}  {_num(s.spread):>6}  {_num(s.normalised):>5}"
                f"  {s.title}{mark}"
            )


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


@click.command("export-winners")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write winners.csv, winners.xlsx and winners.zip into.",
)
@with_appcontext
def export_winners_command(out_dir: Path) -> None:
    """Write the winners' CSV, XLSX and ZIP of originals (the admin downloads' own functions)."""
    contest = contests.find_current_contest()
    if contest is None:
        raise click.ClickException("No contest.")
    rows = exports.winners(contest)
    csv_bytes = exports.winners_csv(rows)
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # personal data: owner only
    (out_dir / "winners.csv").write_bytes(csv_bytes)
    (out_dir / "winners.xlsx").write_bytes(exports.winners_xlsx(rows))
    with open(out_dir / "winners.zip", "wb") as archive:
        for chunk in exports.winners_zip(rows, csv_bytes):
            archive.write(chunk)
    with write_transaction():
        for file_format in ("csv", "xlsx", "zip"):
            exports.record_export(None, "winners", contest, file_format, len(rows))
    click.echo(f"Wrote {len(rows)} winners to {out_dir}: winners.csv, winners.xlsx, winners.zip.")


@click.command("purge-personal-data")
@click.option(
    "--before",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Cut-off date (Korean time, start of the day), e.g. 2027-12-31.",
)
@click.option("--originals", is_flag=True, help="Also delete the non-winners' original files.")
@click.option(
    "--winners-originals",
    is_flag=True,
    help="Also delete the winners' original files (else they are kept, stripped of location,"
    " owner and serial-number tags).",
)
@with_appcontext
def purge_personal_data_command(before: datetime, originals: bool, winners_originals: bool) -> None:
    """Erase non-winners' personal data (contests published, or entries sent, before DATE)."""
    cutoff = before.replace(tzinfo=SEOUL)
    started = utcnow()
    done = purge.purge_personal_data(cutoff, originals, None, winners_originals)
    db.session.commit()  # the original files are deleted once this has committed
    if not done:
        click.echo(f"No contest's retention period ended before {before:%Y-%m-%d}.")
    for purged in done:
        scope = "results published" if purged.rule == "published" else "not yet published"
        click.echo(
            f"{purged.contest} ({scope}): erased the personal data of {purged.entries} entries"
            + (
                f", deleted {purged.originals} original files"
                if originals or winners_originals
                else ""
            )
            + f"; stripped location, owner and serial tags from {purged.cleaned} kept originals"
            + "; winners kept."
        )
        for receipt in purged.uncleaned:
            click.echo(
                f"  could not strip the tags of {receipt}'s original (format or structure):"
                " delete it with --originals / --winners-originals, or by hand.",
                err=True,
            )
    backups = purge.backups_before(started)
    if backups:
        click.echo("Backups taken before this purge still hold the erased data; destroy them:")
        for taken in backups:
            click.echo(f"  {taken.at:%Y-%m-%d %H:%M} UTC  {taken.host}:{taken.folder}")
    else:
        click.echo("No backup was recorded before this purge.")


@click.command("backup")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="A new (or empty) folder for the copy.",
)
@with_appcontext
def backup_command(out: Path) -> None:
    """Copy the database and its files while the site runs, with a manifest to check them."""
    from contest.core.formatting import file_size
    from contest.services import backup  # imported here: only these two commands need it

    try:
        database = backup.database_for(current_app.config["SQLALCHEMY_DATABASE_URI"])
        manifest = backup.backup(database, get_storage(), out, utcnow())
    except backup.BackupError as why:
        raise click.ClickException(str(why)) from None
    click.echo(
        f"Backed up {manifest.entries} entries and {len(manifest.files)} files"
        f" ({file_size(manifest.total_bytes)}) to {out}."
    )
    # Recorded, so a later purge can list the backups that still hold what it erases.
    with write_transaction():
        backup.record(manifest, out)
    for key in manifest.missing:
        click.echo(f"missing (not in the backup): {key}", err=True)
    for key in manifest.damaged:
        click.echo(f"damaged (copied as found): {key}", err=True)
    if not manifest.complete:
        click.echo("The backup is incomplete: run `doctor` on the site.", err=True)
        raise SystemExit(1)


@click.command("restore")
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="A folder made by `backup`.",
)
@click.option("--force", is_flag=True, help="Replace a database and stored files already there.")
@with_appcontext
def restore_command(source: Path, force: bool) -> None:
    """Restore a backup into this (stopped) site's empty database and upload folder."""
    from contest.core.formatting import file_size
    from contest.services import backup

    db.session.remove()
    db.engine.dispose()  # no connection may stay open on the database being replaced
    try:
        database = backup.database_for(current_app.config["SQLALCHEMY_DATABASE_URI"])
        restored = backup.restore(source, database, get_storage(), force=force)
    except backup.BackupError as why:
        raise click.ClickException(str(why)) from None
    finally:
        db.engine.dispose()
    click.echo(
        f"Restored {restored.entries} entries and {restored.files} files"
        f" ({file_size(restored.total_bytes)}); every file matches the manifest."
    )
    for key in restored.missing:
        click.echo(f"missing from the backup: {key}", err=True)
    for key in restored.damaged:
        click.echo(f"damaged when backed up: {key}", err=True)


@click.group("contest")
def contest_group() -> None:
    """Show or change the contest's settings (the same as /admin/contest)."""


@contest_group.command("show")
@with_appcontext
def show_contest_command() -> None:
    """Print every setting as KEY = VALUE (times in Seoul time)."""
    contest = _the_contest()
    for key, value in contest_settings.flatten(contest_settings.settings_of(contest)).items():
        click.echo(f"{key} = {value}" if "\n" not in value else f"{key} = {value!r}")
    click.echo(f"# per-entrant limit in force: {contests.entry_limit(contest)}")
    url = contests.public_url(contest) or "(none: the host of each request)"
    click.echo(f"# public URL in force: {url}")


@contest_group.command("set")
@click.argument("key")
@click.argument("value")
@with_appcontext
def set_contest_command(key: str, value: str) -> None:
    """Change one setting as the admin page would, e.g. `closes_at "2026-12-06 18:00"`."""
    try:
        with write_transaction():
            contest = _the_contest()
            wanted = contest_settings.with_value(contest_settings.settings_of(contest), key, value)
            changed = contest_settings.update(contest, wanted, None, via="cli")
    except Refusal as why:
        raise click.ClickException(f"{key}: {why}") from None
    for name, (old, new) in changed.items():
        click.echo(f"{name}: {old!r} -> {new!r}")
    if not changed:
        click.echo("Nothing changed.")


@contest_group.command("close-submissions")
@with_appcontext
def close_submissions_command() -> None:
    """End the submission window now."""
    try:
        with write_transaction():
            contest_settings.close_submissions(_the_contest(), utcnow(), None, via="cli")
    except Refusal as why:
        raise click.ClickException(str(why)) from None
    click.echo("Submissions closed.")


@click.command("vote-tokens")
@click.option("--count", type=int, required=True, help="How many vote cards to make.")
@with_appcontext
def vote_tokens_command(count: int) -> None:
    """Make COUNT people's-choice vote cards and print their codes, one a line."""
    try:
        with write_transaction():
            most = current_app.config["VOTE_TOKENS_MAX_BATCH"]
            tokens = votes.make_tokens(_the_contest(), count, most, None, via="cli")
            codes = [token.token for token in tokens]
    except Refusal as why:
        raise click.ClickException(str(why)) from None
    for code in codes:
        click.echo(code)


def _the_contest() -> Contest:
    contest = contests.find_current_contest()
    if contest is None:
        raise click.ClickException("No contest yet: run `flask init-db` first.")
    return contest
