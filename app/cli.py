"""`flask --app wsgi …` commands (SPEC §8). Errors exit non-zero with a one-line message."""

from __future__ import annotations

import logging
import os
import secrets

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from app.extensions import db
from app.models import ROLES, ApiToken, Membership, Organization, User
from app.schedules.cli import schedules

users = AppGroup("users", help="Manage users.")
tokens = AppGroup("tokens", help="Manage API tokens.")


def _org(name: str, create: bool = False) -> Organization:
    org = db.session.execute(
        db.select(Organization).where(Organization.name == name)
    ).scalar_one_or_none()
    if org is None:
        if not create:
            raise click.ClickException(f"Organization '{name}' not found.")
        org = Organization(name=name)
        db.session.add(org)
    return org


def _user(email: str) -> User:
    user = db.session.execute(
        db.select(User).where(User.email == email.strip().lower())
    ).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"User '{email}' not found.")
    return user


def create_user(email: str, password: str, role: str, org_name: str) -> User:
    """Create a user (or add an existing one to an organization) with a role there."""
    if len(password) < 8:
        raise click.ClickException("The password must be at least 8 characters long.")
    org = _org(org_name, create=True)
    user = db.session.execute(
        db.select(User).where(User.email == email.strip().lower())
    ).scalar_one_or_none()
    if user is None:
        user = User(email=email)
        db.session.add(user)
    user.set_password(password)
    db.session.flush()
    membership = user.membership_in(org.id)
    if membership is None:
        db.session.add(Membership(user=user, organization=org, role=role))
    else:
        membership.role = role
    db.session.commit()
    return user


@users.command("create")
@click.argument("email")
@click.option("--password", required=True, help="At least 8 characters.")
@click.option("--role", type=click.Choice(ROLES), default="admin", show_default=True)
@click.option("--org", "org_name", default="Default", show_default=True, help="Organization.")
def users_create(email: str, password: str, role: str, org_name: str) -> None:
    """Create a user with a role in an organization (created if new)."""
    if "@" not in email:
        raise click.ClickException(f"'{email}' is not an email address.")
    create_user(email, password, role, org_name)
    click.echo(f"{email.strip().lower()} is {role} of {org_name}.")


@tokens.command("create")
@click.argument("email")
@click.option("--name", default="", help="A label to recognise the token by.")
def tokens_create(email: str, name: str) -> None:
    """Create an API token; the token is printed once, on the last line."""
    user = _user(email)
    token, plain = ApiToken.issue(user, name=name)
    db.session.add(token)
    db.session.commit()
    click.echo(f"Token for {user.email} (keep it: it is shown only once):")
    click.echo(plain)


@click.command("bootstrap")
@with_appcontext
def bootstrap() -> None:
    """First start of `make run`: create an admin if there is no user, and say how to sign in."""
    if db.session.execute(db.select(User.id).limit(1)).first() is not None:
        click.echo("Sign in with your existing account.")
        return
    email = os.environ.get("ADMIN_EMAIL") or "admin@example.com"
    password = os.environ.get("ADMIN_PASSWORD") or secrets.token_urlsafe(12)
    create_user(email, password, "admin", os.environ.get("ADMIN_ORG") or "Default")
    click.echo(f"Created the first admin. Sign in as {email} with password: {password}")


@click.command("worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes, each running one run at a time [TASKPLAN_WORKER_PROCESSES, 4].",
)
def worker_command(burst: bool, processes: int | None) -> None:
    """Run the RQ workers that execute runs."""
    from app.runs.worker import run_worker

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    run_worker(burst=burst, processes=processes or current_app.config["WORKER_PROCESSES"])


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Run the scheduler: fires due schedules and reconciles Redis with the database."""
    from app.scheduling.process import run_scheduler

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    run_scheduler()


def register_cli(app: Flask) -> None:
    app.cli.add_command(users)
    app.cli.add_command(tokens)
    app.cli.add_command(bootstrap)
    app.cli.add_command(worker_command)
    app.cli.add_command(scheduler_command)
    app.cli.add_command(schedules)
