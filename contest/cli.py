"""Command-line tasks: `flask --app wsgi init-db`, `flask --app wsgi doctor [--repair]`."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext
from flask_migrate import upgrade

from . import doctor
from .extensions import db
from .models import utcnow
from .seed import seed_fair_contest
from .storage import get_storage


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Apply the database migrations and seed the fair's contest (safe to run again)."""
    upgrade()
    contest = seed_fair_contest(utcnow())
    db.session.commit()
    if contest is None:
        click.echo("Database up to date; the contest already exists.")
    else:
        click.echo(f"Database ready; seeded '{contest.title}'.")


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
        remaining = doctor.repair(storage, problems)
        db.session.commit()
        click.echo(f"Repaired {len(problems) - len(remaining)} of {len(problems)} problems.")
        problems = remaining
        for problem in remaining:
            click.echo(f"cannot repair: {problem.kind}: {problem.detail}", err=True)
    if problems:
        raise SystemExit(1)
    click.echo("No problems found." if not repair else "Storage and database agree.")


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(init_db_command)
    app.cli.add_command(doctor_command)
