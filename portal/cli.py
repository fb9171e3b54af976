"""Command-line tools, grouped by noun: ``flask models``, ``flask outbox``, ``flask demo``."""

import secrets
from datetime import date

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup
from werkzeug.security import generate_password_hash

from portal.clock import utcnow
from portal.extensions import db
from portal.models import AIModel, ModelVersion, StaffUser, Team, VersionStatus
from portal.services.outbox import SmtpSettings, deliver_due

models_cli = AppGroup("models", help="Manage the registry of AI models and versions.")
outbox_cli = AppGroup("outbox", help="Deliver the e-mail waiting in the outbox.")
demo_cli = AppGroup("demo", help="Demonstration data for a new installation.")


@models_cli.command("add", help="Add a model, or add versions to an existing one.")
@click.argument("slug")
@click.option("--name", help="Display name (required for a new model).")
@click.option("--provider", help="Who provides the model (required for a new model).")
@click.option("--team", "team_slug", help="Slug of the owning team.")
@click.option(
    "--version",
    "versions",
    multiple=True,
    help="A version, optionally with its release date: 2.1 or 2.1@2026-05-01.",
)
def add_model(slug, name, provider, team_slug, versions):
    model = db.session.scalar(sa.select(AIModel).where(AIModel.slug == slug))
    if model is None:
        if not name or not provider:
            raise click.UsageError("a new model needs --name and --provider")
        model = AIModel(slug=slug, display_name=name, provider=provider)
        db.session.add(model)
    if team_slug:
        team = db.session.scalar(sa.select(Team).where(Team.slug == team_slug))
        if team is None:
            raise click.BadParameter(f"no team with slug {team_slug!r}", param_hint="--team")
        model.owning_team = team
    known = {version.version for version in model.versions}
    for text in versions:
        version, _, released = text.partition("@")
        if version in known:
            continue
        try:
            released_on = date.fromisoformat(released) if released else None
        except ValueError as error:
            raise click.BadParameter(
                f"{released!r} is not a date (YYYY-MM-DD)", param_hint="--version"
            ) from error
        model.versions.append(ModelVersion(version=version, released_on=released_on))
    db.session.commit()
    click.echo(f"{model.slug}: {', '.join(v.version for v in model.versions) or 'no versions'}")


@models_cli.command("list", help="List the models and their versions.")
def list_models():
    for model in db.session.scalars(sa.select(AIModel).order_by(AIModel.slug)):
        versions = ", ".join(f"{v.version} ({v.status.value})" for v in model.versions)
        click.echo(f"{model.slug}\t{model.display_name}\t{model.provider}\t{versions}")


@outbox_cli.command("send", help="Send the e-mail that is due, over SMTP.")
@click.option("--limit", default=100, show_default=True, help="At most this many messages.")
def send_outbox(limit):
    report = deliver_due(SmtpSettings.from_config(current_app.config), now=utcnow(), limit=limit)
    db.session.commit()
    click.echo(f"sent {report.sent}, will retry {report.deferred}, gave up on {report.failed}")


DEMO_TEAMS = [
    ("trust-safety", "Trust and Safety", "Europe/Paris"),
    ("model-quality", "Model Quality", "America/New_York"),
]
DEMO_MODELS = [
    (
        "aurora-chat",
        "Aurora Chat",
        "Example AI Labs",
        "trust-safety",
        [("3.0", date(2026, 9, 1)), ("2.5", date(2026, 3, 15))],
    ),
    (
        "lumen-vision",
        "Lumen Vision",
        "Example AI Labs",
        "model-quality",
        [("1.2", date(2026, 6, 30))],
    ),
    (
        "quill-writer",
        "Quill Writer",
        "Northwind Models",
        "model-quality",
        [("5.1", date(2026, 10, 2)), ("5.0", date(2026, 4, 20))],
    ),
]
DEMO_STAFF_EMAIL = "admin@redress.example"


@demo_cli.command("load", help="Load demonstration data into an empty database.")
def load_demo():
    if db.session.scalar(sa.select(sa.func.count()).select_from(AIModel)):
        click.echo("The database already has data; demo data not loaded.")
        return
    teams = {slug: Team(slug=slug, name=name, timezone=zone) for slug, name, zone in DEMO_TEAMS}
    db.session.add_all(teams.values())
    for slug, name, provider, team, versions in DEMO_MODELS:
        db.session.add(
            AIModel(
                slug=slug,
                display_name=name,
                provider=provider,
                owning_team=teams[team],
                versions=[
                    ModelVersion(version=v, released_on=d, status=VersionStatus.ACTIVE)
                    for v, d in versions
                ],
            )
        )
    password = secrets.token_urlsafe(12)
    db.session.add(
        StaffUser(
            email=DEMO_STAFF_EMAIL,
            display_name="Demo administrator",
            password_hash=generate_password_hash(password),
        )
    )
    db.session.commit()
    click.echo(f"Demo data loaded: {len(DEMO_TEAMS)} teams, {len(DEMO_MODELS)} models.")
    click.echo(f"Staff account: {DEMO_STAFF_EMAIL}  password: {password}")
    click.echo("This password is shown once; it is stored only as a hash.")


def register_commands(app: Flask) -> None:
    for group in (models_cli, outbox_cli, demo_cli):
        app.cli.add_command(group)
