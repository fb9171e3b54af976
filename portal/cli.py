"""Command-line tools, grouped by noun: ``flask models``, ``flask outbox``, ``flask demo``,
``flask audit``, ``flask users``, ``flask scheduler``, ``flask sla``, ``flask retention``,
``flask export``."""

import json
import logging
from datetime import UTC, date, datetime, time
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup

from portal.clock import utcnow
from portal.extensions import db
from portal.models import (
    AIModel,
    Category,
    ExportFormat,
    ModelVersion,
    Outcome,
    ReporterRole,
    RoutingRule,
    SavedReply,
    Severity,
    StaffLanguage,
    StaffUser,
    Team,
    TeamMembership,
    TicketKind,
    VersionStatus,
)
from portal.models.enums import AI_OUTPUT_KINDS, Actor, Role
from portal.scheduler import Clock, default_jobs, run_until_stopped
from portal.services import (
    audit,
    export_text,
    exports,
    feedback,
    redaction,
    retention,
    sla,
    totp,
)
from portal.services.accounts import (
    AccountError,
    create_user,
    disable,
    find_user,
    generate_password,
    hasher_from_config,
    normalise_email,
    set_password,
    set_roles,
)
from portal.services.outbox import SmtpSettings, deliver_due
from portal.services.tickets import ReportSubmission, submit_report
from portal.services.tokens import new_form_key

models_cli = AppGroup("models", help="Manage the registry of AI models and versions.")
outbox_cli = AppGroup("outbox", help="Deliver the e-mail waiting in the outbox.")
demo_cli = AppGroup("demo", help="Demonstration data for a new installation.")
audit_cli = AppGroup("audit", help="Check the tamper-evident audit log.")
users_cli = AppGroup("users", help="Manage staff accounts.")
scheduler_cli = AppGroup("scheduler", help="The clock process: SLA sweep and outbox sender.")
sla_cli = AppGroup("sla", help="Service-level deadlines.")
retention_cli = AppGroup("retention", help="Delete what is kept past its retention period.")
export_cli = AppGroup("export", help="Export consented, redacted feedback for product teams.")
redaction_cli = AppGroup("redaction", help="The redacted, export-ready text of the reports.")


@sla_cli.command("recompute", help="Recompute the deadlines of every open report.")
def recompute_deadlines():
    count = sla.recompute_open_tickets()
    db.session.commit()
    click.echo(f"deadlines recomputed for {count} open report(s)")


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


# Trust and Safety gives new reports to its members as they arrive; Model Quality picks them
# from its queue.
DEMO_TEAMS = [
    ("trust-safety", "Trust and Safety", "Europe/Paris", True),
    ("model-quality", "Model Quality", "America/New_York", False),
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
# Tried in order; the last, with no condition, catches everything else.
DEMO_ROUTING_RULES = [
    ("Safety first", "trust-safety", {"category": Category.SELF_HARM}),
    ("Aurora Chat", "trust-safety", {"model": "aurora-chat"}),
    ("Everything else", "model-quality", {}),
]
DEMO_STAFF_EMAIL = "admin@redress.example"
DEMO_STAFF_LANGUAGES = ["en", "fr"]
# (team, locale, title, body): what agents start their replies from.
# Reports already in the queue, so that a first look at the staff workspace shows casework:
# (model, version, kind, category, severity, locale, output, description).
DEMO_REPORTS = [
    (
        "aurora-chat",
        "3.0",
        "harm_report",
        "dangerous_instructions",
        "high",
        "en",
        "To clean the bathroom faster, mix bleach with ammonia.",
        "Mixing these makes a toxic gas. Someone could follow this advice.",
    ),
    (
        "aurora-chat",
        "3.0",
        "harm_report",
        "dangerous_instructions",
        "medium",
        "fr",
        "Mélangez de la Javel et du vinaigre pour détartrer.",
        "Ce mélange dégage du chlore. C'est dangereux.",
    ),
    (
        "quill-writer",
        "5.1",
        "output_dispute",
        "misinformation",
        "low",
        "en",
        "The Eiffel Tower was completed in 1925.",
        "It was completed in 1889; my essay was marked down because of this.",
    ),
]

DEMO_SAVED_REPLIES = [
    (
        "trust-safety",
        "en",
        "We are looking into it",
        "Thank you for telling us. We are looking into what the model produced and will write "
        "to you again when we know more.",
    ),
    (
        "trust-safety",
        "fr",
        "Nous examinons votre signalement",
        "Merci de nous avoir prévenus. Nous examinons ce que le modèle a produit et vous "
        "écrirons de nouveau dès que nous en saurons plus.",
    ),
    (
        "model-quality",
        "en",
        "Fixed in a later version",
        "Thank you for your report. The behaviour you describe has been corrected in a later "
        "version of the model.",
    ),
    (
        "model-quality",
        "fr",
        "Corrigé dans une version ultérieure",
        "Merci pour votre signalement. Le comportement que vous décrivez a été corrigé dans une "
        "version ultérieure du modèle.",
    ),
]


def _submit_demo_report(model, version, *, kind, category, severity, locale, output, description):
    """A report as the form would send it (no contact address, so no e-mail and no link)."""
    submission = ReportSubmission(
        kind=TicketKind(kind),
        reporter_role=ReporterRole.SELF,
        output_text=output,
        description=description,
        category=Category(category),
        reporter_severity=Severity(severity),
        locale=locale,
        timezone=current_app.config["PORTAL_DEFAULT_TIMEZONE"],
        model_id=model.id,
        model_version_id=version.id,
    )
    submit_report(
        submission,
        form_key=new_form_key(),
        secret_key=current_app.config["SECRET_KEY"],
        now=utcnow(),
        tracking_link=lambda _token: "",  # never used: nobody is e-mailed
    )


@demo_cli.command("load", help="Load demonstration data into an empty database.")
def load_demo():
    if db.session.scalar(sa.select(sa.func.count()).select_from(AIModel)):
        click.echo("The database already has data; demo data not loaded.")
        return
    teams = {
        slug: Team(slug=slug, name=name, timezone=zone, auto_assign=auto)
        for slug, name, zone, auto in DEMO_TEAMS
    }
    db.session.add_all(teams.values())
    models = {
        slug: AIModel(
            slug=slug,
            display_name=name,
            provider=provider,
            owning_team=teams[team],
            versions=[
                ModelVersion(version=v, released_on=d, status=VersionStatus.ACTIVE)
                for v, d in versions
            ],
        )
        for slug, name, provider, team, versions in DEMO_MODELS
    }
    db.session.add_all(models.values())
    for position, (name, team, condition) in enumerate(DEMO_ROUTING_RULES, start=1):
        conditions = {"model": models[condition["model"]]} if "model" in condition else condition
        db.session.add(RoutingRule(position=position, name=name, team=teams[team], **conditions))
    db.session.add_all(
        SavedReply(team=teams[team], locale=locale, title=title, body=body)
        for team, locale, title, body in DEMO_SAVED_REPLIES
    )
    password = generate_password()
    staff = create_user(
        DEMO_STAFF_EMAIL,
        "Demo administrator",
        password,
        [Role.ADMIN, Role.AGENT],
        hasher=hasher_from_config(current_app.config),
    )
    db.session.add_all(TeamMembership(team=team, user=staff) for team in teams.values())
    db.session.add_all(
        StaffLanguage(user_id=staff.id, locale=code) for code in DEMO_STAFF_LANGUAGES
    )
    db.session.flush()
    for model, version, kind, category, severity, locale, output, description in DEMO_REPORTS:
        _submit_demo_report(
            models[model],
            next(v for v in models[model].versions if v.version == version),
            kind=kind,
            category=category,
            severity=severity,
            locale=locale,
            output=output,
            description=description,
        )
    db.session.commit()
    click.echo(
        f"Demo data loaded: {len(DEMO_TEAMS)} teams, {len(DEMO_MODELS)} models, "
        f"{len(DEMO_ROUTING_RULES)} routing rules, {len(DEMO_REPORTS)} reports."
    )
    click.echo(f"Staff account: {DEMO_STAFF_EMAIL}  password: {password}")
    click.echo("This password is shown once; it is stored only as a hash.")


@audit_cli.command("verify", help="Check the audit log's hash chain; name the first bad entry.")
@click.option(
    "--checkpoint",
    help="A checkpoint from `flask audit checkpoint`, to catch a log cut short after it.",
)
def verify_audit_log(checkpoint):
    result = _verify_audit_log(checkpoint)
    click.echo(f"audit log OK: {result.entries} entries")
    if checkpoint is None:
        # Cutting off the newest entries and rewinding the head leaves a chain that verifies.
        click.echo(
            "note: no --checkpoint given, so a log cut short at its end cannot be detected",
            err=True,
        )


@audit_cli.command("checkpoint", help="Verify the audit log, then print a signed checkpoint.")
def checkpoint_audit_log():
    _verify_audit_log(None)
    click.echo(audit.checkpoint(secret_key=current_app.config["SECRET_KEY"]))


def _verify_audit_log(checkpoint: str | None) -> audit.VerifyResult:
    """The verified result, or exit 1 naming the first bad sequence number."""
    try:
        result = audit.verify(secret_key=current_app.config["SECRET_KEY"], checkpoint=checkpoint)
    except audit.InvalidCheckpoint as error:
        raise click.BadParameter(str(error), param_hint="--checkpoint") from error
    if not result.ok:
        click.echo(
            f"audit log BROKEN at sequence number {result.first_bad_seq}: {result.reason}",
            err=True,
        )
        raise SystemExit(1)
    return result


ROLE_OPTION = click.option(
    "--role",
    "roles",
    multiple=True,
    type=click.Choice([role.value for role in Role]),
    help="A role to hold (repeat for several).",
)


def _account(email: str) -> StaffUser:
    user = find_user(email)
    if user is None:
        raise click.BadParameter(f"no account for {email!r}", param_hint="EMAIL")
    return user


def _audit_account_change(action: str, user: StaffUser, **payload) -> None:
    """Account changes made at the console are the system's doing, recorded like any other."""
    db.session.flush()  # a new account needs its id
    audit.append(
        actor_type=Actor.SYSTEM,
        actor_id="cli",
        action=action,
        object_type="staff_account",
        object_id=str(user.id),
        payload=payload,
        now=utcnow(),
        secret_key=current_app.config["SECRET_KEY"],
    )


def _print_password_once(password: str) -> None:
    click.echo(f"password: {password}")
    click.echo("This password is shown once; it is stored only as a hash.")


@users_cli.command("create", help="Create a staff account with a generated password.")
@click.argument("email")
@click.option("--name", required=True, help="The name colleagues know them by.")
@ROLE_OPTION
def create_account(email, name, roles):
    password = generate_password()
    try:
        user = create_user(
            email,
            name,
            password,
            [Role(r) for r in roles],
            hasher=hasher_from_config(current_app.config),
        )
    except AccountError as error:
        raise click.ClickException(str(error)) from error
    _audit_account_change("staff.account_created", user, roles=sorted(roles))
    db.session.commit()
    click.echo(f"created {user.email} ({', '.join(sorted(roles)) or 'no roles'})")
    _print_password_once(password)


@users_cli.command(
    "disable", help="Disable an account, end its sessions and return its open reports."
)
@click.argument("email")
def disable_account(email):
    user = _account(email)
    returned = disable(user, now=utcnow())
    _audit_account_change("staff.account_disabled", user, tickets_returned=len(returned))
    db.session.commit()
    click.echo(
        f"disabled {normalise_email(email)}; its sessions have ended and "
        f"{len(returned)} open report(s) went back to their teams' queues"
    )


@users_cli.command("reset-password", help="Give an account a new generated password.")
@click.argument("email")
def reset_password(email):
    password = generate_password()
    user = _account(email)
    set_password(user, password, hasher=hasher_from_config(current_app.config))
    _audit_account_change("staff.password_reset", user)
    db.session.commit()
    click.echo(f"new password for {normalise_email(email)}; its sessions have ended")
    _print_password_once(password)


@users_cli.command("reset-two-step", help="Remove an account's second factor (a lost phone).")
@click.argument("email")
def reset_two_step(email):
    user = _account(email)
    totp.remove(user)
    _audit_account_change("staff.totp_removed", user)
    db.session.commit()
    click.echo(f"{user.email}: two-step verification removed; its sessions have ended")


@users_cli.command("set-roles", help="Replace an account's roles (none given: no roles).")
@click.argument("email")
@ROLE_OPTION
def set_account_roles(email, roles):
    user = _account(email)
    set_roles(user, [Role(r) for r in roles])
    _audit_account_change("staff.roles_set", user, roles=sorted(roles))
    db.session.commit()
    click.echo(f"{user.email}: {', '.join(sorted(roles)) or 'no roles'}")


@users_cli.command("list", help="List staff accounts, their roles and whether they are active.")
def list_accounts():
    for user in db.session.scalars(sa.select(StaffUser).order_by(StaffUser.email)):
        state = "active" if user.is_active else "disabled"
        roles = ", ".join(sorted(role.value for role in user.roles)) or "no roles"
        click.echo(f"{user.email}\t{user.display_name}\t{state}\t{roles}")


def _clock() -> Clock:
    app = current_app._get_current_object()
    return Clock(app.app_context, default_jobs(app.config))


@scheduler_cli.command("run", help="Run the clock's jobs until stopped (SIGTERM or Ctrl-C).")
def run_scheduler():
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not a line per run
    run_until_stopped(_clock())


@scheduler_cli.command("tick", help="Run every job of the clock once; exit 1 if one failed.")
def tick_scheduler():
    results = _clock().tick()
    for result in results:
        click.echo(f"{result.name}: {result.error or 'ok'}")
    if any(result.failed for result in results):
        raise SystemExit(1)


@retention_cli.command(
    "run", help="Delete old evidence files and erase old reports' personal data and text."
)
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted; change nothing.")
def run_retention(dry_run):
    counts = retention.run(now=utcnow(), dry_run=dry_run)
    if dry_run:
        click.echo(f"Evidence files that would be deleted: {counts.evidence_files}")
        click.echo(f"Reports that would be anonymised: {counts.tickets_to_anonymise}")
        return
    db.session.commit()  # the files leave the disk now
    click.echo(f"Evidence files deleted: {counts.evidence_files}")
    click.echo(f"Reports anonymised: {counts.tickets_to_anonymise}")


@redaction_cli.command(
    "recompute", help="Redact again the reports redacted under older rules (or never)."
)
def recompute_redaction():
    done = export_text.recompute_stale()
    db.session.commit()
    click.echo(f"Reports redacted under rules version {redaction.RULES_VERSION}: {done}")


def _choices(enum) -> click.Choice:
    return click.Choice([member.value for member in enum])


def _since_option(_ctx, param, text: str | None) -> datetime | None:
    """A day (midnight UTC) or an ISO 8601 moment (UTC unless it names its offset)."""
    if text is None:
        return None
    try:
        if len(text) == len("2026-01-01"):
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise click.BadParameter(
            f"{text!r} is neither a date (YYYY-MM-DD) nor an ISO 8601 date and time",
            param=param,
        ) from error
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _manifest_cursor(path: Path) -> datetime:
    try:
        cursor = json.loads(path.read_text(encoding="utf-8"))["cursor"]
        return datetime.fromisoformat(cursor).astimezone(UTC)
    except (ValueError, KeyError, TypeError) as error:
        raise click.BadParameter(
            f"{path} is not an export manifest with a cursor", param_hint="--since-manifest"
        ) from error


DAY = click.DateTime(formats=["%Y-%m-%d"])


@export_cli.command("feedback", help="Export consented, redacted feedback records into a folder.")
@click.option(
    "--format", "fmt", required=True, type=_choices(ExportFormat), help="The files to write."
)
@click.option("--model", help="Only this model (its slug).")
@click.option("--version-from", help="Only versions of --model released from this one on.")
@click.option("--version-to", help="Only versions of --model released up to this one.")
@click.option("--kind", type=_choices(AI_OUTPUT_KINDS), help="Only this kind of report.")
@click.option("--category", type=_choices(Category), help="Only this category.")
@click.option(
    "--severity", type=_choices(Severity), help="Only this severity (staff's, else the reporter's)."
)
@click.option("--outcome", type=_choices(Outcome), help="Only reports decided with this outcome.")
@click.option("--language", help="Only reports in this language (a locale code such as fr).")
@click.option("--created-from", type=DAY, help="Only reports made on or after this day (UTC).")
@click.option("--created-to", type=DAY, help="Only reports made on or before this day (UTC).")
@click.option(
    "--since",
    callback=_since_option,
    help="Only reports changed after this date or ISO 8601 date and time (incremental).",
)
@click.option(
    "--since-manifest",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Only reports changed after this earlier export's cursor (its manifest.json).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder to write into (made if missing; must be empty).",
)
def export_feedback(fmt, out, since, since_manifest, created_from, created_to, **criteria):
    if since is not None and since_manifest is not None:
        raise click.UsageError("give --since or --since-manifest, not both")
    if (criteria["version_from"] or criteria["version_to"]) and not criteria["model"]:
        raise click.UsageError("--version-from and --version-to need --model")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise click.BadParameter(f"{out} exists and is not empty", param_hint="--out")
    filters = feedback.FeedbackFilters(
        **criteria,
        created_from=created_from.date() if created_from else None,
        created_to=created_to.date() if created_to else None,
        since=_manifest_cursor(since_manifest) if since_manifest else since,
    )
    try:
        total = feedback.count(filters)
    except feedback.UnknownModel as error:
        raise click.BadParameter(
            f"the registry has no model or version {error}", param_hint="--model"
        ) from error
    try:
        with click.progressbar(length=total, label="Exporting feedback records") as bar:
            manifest = exports.run_export(
                filters=filters,
                fmt=ExportFormat(fmt),
                out_dir=out,
                actor=("cli", None),
                now=utcnow(),
                progress=lambda _done: bar.update(1),
            )
    except exports.ExportFolderNotEmpty as error:
        raise click.BadParameter(str(error), param_hint="--out") from error
    db.session.commit()
    _echo_export_summary(manifest, out)


def _echo_export_summary(manifest: dict, out: Path) -> None:
    counts = manifest["counts"]
    splits = ", ".join(f"{name} {number}" for name, number in counts["splits"].items())
    redacted = ", ".join(
        f"{kind} {number}" for kind, number in manifest["redaction_counts"].items() if number
    )
    click.echo(f"Records: {counts['records']} ({splits})")
    click.echo(f"Preference pairs: {counts['preference_pairs']}")
    click.echo(f"Tombstones: {counts['tombstones']}")
    click.echo(f"Redacted: {redacted or 'nothing'}")
    click.echo("Files:")
    for file in manifest["files"]:
        click.echo(f"  {file['path']}  {file['bytes']} bytes  sha256 {file['sha256']}")
    click.echo(f"Manifest: {out / exports.MANIFEST} (audit entry {manifest['audit_seq']})")
    click.echo(f"Next incremental export: --since-manifest {out / exports.MANIFEST}")


def register_commands(app: Flask) -> None:
    groups = (
        models_cli,
        outbox_cli,
        demo_cli,
        audit_cli,
        users_cli,
        scheduler_cli,
        sla_cli,
        retention_cli,
        export_cli,
        redaction_cli,
    )
    for group in groups:
        app.cli.add_command(group)
