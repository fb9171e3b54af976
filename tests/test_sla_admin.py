"""Service levels on the administration pages: the policies in force, adding, changing and
deleting them, and each team's calendar; every change moves the open reports' deadlines and
leaves an audit entry."""

import json
import re
import threading
from collections import Counter
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.i18n import LOCALE_COOKIE
from portal.models import (
    Category,
    DurationUnit,
    Role,
    RoutingRule,
    Severity,
    SlaPolicy,
    Status,
    Team,
    Ticket,
)
from portal.services import sla_admin
from portal.services.sla import Span, Terms
from portal.services.sla_admin import PolicyScope, UnusableCalendar, set_team_calendar
from portal.services.staff_admin import AdminRefused
from tests.factories import make_registry, make_team, make_ticket
from tests.test_admin import audit, signed_in, signed_in_admin, submit, token
from tests.test_sla_dashboard import statements

PARIS = ZoneInfo("Europe/Paris")
POLICIES = "/staff/admin/sla-policies"
NEW_POLICY = "/staff/admin/sla-policies/new"


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


@pytest.fixture
def teams(app):
    """Trust and Safety (Europe/Paris, the default week Monday to Friday 09:00-17:00, no
    holidays) takes every report but privacy ones, which go to Second line: {slug: id}."""
    with app.app_context():
        make_registry()
        make_team("second-line", "Second line", timezone="Europe/Paris")
        ids = {team.slug: team.id for team in db.session.scalars(sa.select(Team))}
        db.session.add_all(
            [
                RoutingRule(
                    position=1,
                    name="Privacy",
                    team_id=ids["second-line"],
                    category=Category.PRIVACY,
                ),
                RoutingRule(position=2, name="Everything else", team_id=ids["trust-safety"]),
            ]
        )
        db.session.commit()
        return ids


@pytest.fixture
def admin(app, teams):
    return signed_in_admin(app)


@pytest.fixture
def owner(app, teams):
    """The owner of Trust and Safety."""
    return signed_in(
        app, "owner@example.org", (Role.OWNER, Role.AGENT), team_slugs=["trust-safety"]
    )


def file_report(app, when: datetime, **fields) -> int:
    """A report filed at ``when``; its id."""
    with app.app_context():
        ticket, _token = make_ticket(app, now=when.astimezone(UTC), **fields)
        db.session.commit()
        return ticket.id


def deadlines(app, ticket_id: int) -> tuple[datetime, datetime]:
    """(first response due, decision due)."""
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        return ticket.first_response_due_at, ticket.resolve_due_at


def add_policy(app, **fields) -> int:
    """A policy row as another administrator left it: high severity, round the clock, 4 hours
    to respond, 1 business day between updates, 3 to decide, unless told."""
    values = {
        "severity": Severity.HIGH,
        "business_hours": False,
        "first_response_amount": 4,
        "first_response_unit": DurationUnit.HOURS,
        "next_update_amount": 1,
        "next_update_unit": DurationUnit.BUSINESS_DAYS,
        "resolution_amount": 3,
        "resolution_unit": DurationUnit.BUSINESS_DAYS,
        **fields,
    }
    with app.app_context():
        policy = SlaPolicy(**values)
        db.session.add(policy)
        db.session.commit()
        return policy.id


def policy_form(**overrides) -> dict:
    """Medium reports of every kind and team, in business hours: 4 hours to respond, an update
    every business day, 3 business days to decide."""
    return {
        "applies_to": "medium",
        "category": "",
        "team": "",
        "calendar": "business_hours",
        "first_response_amount": "4",
        "first_response_unit": "hours",
        "next_update_amount": "1",
        "next_update_unit": "business_days",
        "resolution_amount": "3",
        "resolution_unit": "business_days",
        **overrides,
    }


def policies(app) -> list[tuple]:
    with app.app_context():
        return [
            (p.for_appeals, p.severity, p.category, p.team_id, p.first_response_amount)
            for p in db.session.scalars(sa.select(SlaPolicy).order_by(SlaPolicy.id))
        ]


def flashed(client, response) -> str:
    return client.get(response.headers["Location"]).get_data(as_text=True)


# -- the list -----------------------------------------------------------------------------------


def test_the_list_shows_the_built_in_terms_where_no_policy_overrides_them(app, teams, admin):
    add_policy(app, severity=Severity.CRITICAL, first_response_amount=2)
    add_policy(app, category=Category.BIAS, team_id=teams["second-line"])

    page = admin.get(POLICIES).get_data(as_text=True)

    organisation, overrides = page.split("Policies for a kind of problem or a team")
    # Critical has a policy; high, medium, low and appeals follow the built-in terms.
    assert organisation.count("Built-in default") == 4
    assert "2 hours" in organisation  # critical, round the clock
    assert "2 working days" in organisation  # medium's built-in first response
    assert "No update timer: straight to a decision" in organisation  # appeals
    assert "the most specific one wins" in page
    assert "Bias or unfair treatment" in overrides
    assert "Second line" in overrides
    assert "Round the clock" in overrides


def test_administration_links_to_service_levels_and_undelivered_e_mail_for_admins(
    app, teams, admin, owner
):
    admins_page = admin.get("/staff/admin/").get_data(as_text=True)
    owners_page = owner.get("/staff/admin/").get_data(as_text=True)

    # Named apart from the staff navigation's "Service levels" (the dashboard).
    link = f'<a href="{POLICIES}">Service-level policies</a>'
    assert link in admins_page
    assert link in owners_page
    assert "Service levels</a>" not in admins_page.split("<main")[1]
    assert 'href="/staff/admin/outbox"' in admins_page
    assert 'href="/staff/admin/outbox"' not in owners_page


def test_each_policy_edit_link_names_the_reports_it_is_for(app, teams, admin):
    add_policy(app, category=Category.BIAS, team_id=teams["second-line"])
    add_policy(app, severity=Severity.LOW, team_id=teams["trust-safety"])

    page = admin.get(POLICIES).get_data(as_text=True)

    # Said in full to a screen reader's list of links, where the table's columns are not.
    assert (
        'Edit<span class="visually-hidden"> the policy for High: serious harm to me or others '
        "(kind of problem: Bias or unfair treatment; team: Second line)</span>"
    ) in page
    assert (
        'Edit<span class="visually-hidden"> the policy for Low: annoying or unhelpful (kind of '
        "problem: Any; team: Trust and Safety)</span>"
    ) in page
    assert " policy 1<" not in page


def test_an_owners_policies_page_costs_the_same_queries_however_many_policies(app, teams, owner):
    add_policy(app, team_id=teams["trust-safety"])
    with statements(app) as with_one_policy:
        assert owner.get(POLICIES).status_code == 200
    for category in (Category.BIAS, Category.PRIVACY, Category.MISINFORMATION):
        add_policy(app, category=category, team_id=teams["trust-safety"])
        add_policy(app, category=category, team_id=teams["second-line"])
    with statements(app) as with_seven_policies:
        page = owner.get(POLICIES).get_data(as_text=True)

    # The owner's team's four policies are theirs to edit; the other team's are not.
    assert len(re.findall(rf'href="{POLICIES}/\d+"', page)) == 4
    assert len(with_seven_policies) == len(with_one_policy)


# -- changing the terms -------------------------------------------------------------------------


def test_a_new_medium_policy_moves_open_medium_reports_but_not_decided_ones(app, teams, admin):
    # Monday 23 November 2026, 10:00 in Paris; the built-in medium terms give 2 working days
    # to respond and 15 to decide.
    filed = paris(2026, 11, 23, 10, 0)
    open_report = file_report(app, filed, reporter_severity="medium")
    decided_report = file_report(app, filed, reporter_severity="medium")
    high_report = file_report(app, filed, reporter_severity="high")
    with app.app_context():
        db.session.get(Ticket, decided_report).status = Status.DECIDED
        db.session.commit()
    assert deadlines(app, open_report)[0] == paris(2026, 11, 25, 10, 0)
    untouched = deadlines(app, decided_report), deadlines(app, high_report)

    response = submit(admin, NEW_POLICY, policy_form())

    assert response.status_code == 303
    # Two sentences, each translated whole, each a message of its own.
    notices = flashed(admin, response)
    assert "<p>Policy added.</p>" in notices
    assert "<p>1 open report got new deadlines.</p>" in notices
    # 4 working hours: Monday 10:00 to 14:00. 3 business days of 8 hours: Thursday 10:00.
    assert deadlines(app, open_report) == (paris(2026, 11, 23, 14, 0), paris(2026, 11, 26, 10, 0))
    assert (deadlines(app, decided_report), deadlines(app, high_report)) == untouched
    [entry] = audit(app, "sla_policy.created")
    assert entry.actor_id == f"staff:{admin.user_id}"
    payload = json.loads(entry.payload)
    assert payload["severity"] == "medium"
    assert payload["team_id"] is None
    assert payload["first_response"] == [4, "hours"]
    assert payload["resolution"] == [3, "business_days"]
    assert payload["deadlines_moved"] == 1
    listing = admin.get(POLICIES).get_data(as_text=True).split("Policies for a kind")[0]
    assert listing.count("Built-in default") == 4  # medium now follows its policy


def test_editing_then_deleting_a_policy_moves_the_deadlines_each_time(app, teams, admin):
    report = file_report(app, paris(2026, 11, 23, 10, 0), reporter_severity="high")
    policy = add_policy(app)  # round the clock, 4 hours to respond
    page = f"{POLICIES}/{policy}"

    edited = submit(admin, page, policy_form(applies_to="high", first_response_amount="6"))
    with app.app_context():
        assert db.session.get(SlaPolicy, policy).first_response_amount == 6
    # Business hours now: Monday 10:00 plus 6 working hours.
    assert deadlines(app, report)[0] == paris(2026, 11, 23, 16, 0)
    deleted = submit(admin, f"{page}/delete", {}, form_page=page)

    assert edited.status_code == deleted.status_code == 303
    assert "1 open report got new deadlines." in flashed(admin, deleted)
    # The built-in high terms again: 8 working hours, Monday 10:00 to Tuesday 10:00.
    assert deadlines(app, report)[0] == paris(2026, 11, 24, 10, 0)
    assert policies(app) == []
    [updated] = audit(app, "sla_policy.updated")
    assert json.loads(updated.payload)["changed"] == ["business_hours", "first_response"]
    [removed] = audit(app, "sla_policy.deleted")
    assert removed.object_id == str(policy)
    assert json.loads(removed.payload)["deadlines_moved"] == 1


def test_a_policy_for_a_team_applies_to_that_teams_reports_only(app, teams, owner):
    filed = paris(2026, 11, 23, 10, 0)
    own = file_report(app, filed, reporter_severity="medium")
    others = file_report(app, filed, reporter_severity="medium", category="privacy")
    before = deadlines(app, others)

    response = submit(owner, NEW_POLICY, policy_form(team=str(teams["trust-safety"])))

    assert response.status_code == 303
    assert deadlines(app, own)[0] == paris(2026, 11, 23, 14, 0)
    assert deadlines(app, others) == before
    [entry] = audit(app, "sla_policy.created")
    assert entry.actor_id == f"staff:{owner.user_id}"
    assert json.loads(entry.payload)["team_id"] == teams["trust-safety"]


def test_every_open_report_gets_new_deadlines_however_many_batches_they_take(app, teams):
    filed = paris(2026, 11, 23, 10, 0)
    reports = [file_report(app, filed, reporter_severity="medium") for _ in range(5)]
    add_policy(app, severity=Severity.MEDIUM)  # round the clock: 4 hours to respond

    with app.app_context():
        medium = PolicyScope(for_appeals=False, severity=Severity.MEDIUM)
        moved = sla_admin.recompute_deadlines_where(medium.open_tickets(), batch_size=2)
        db.session.commit()

    assert moved == 5
    assert {deadlines(app, report)[0] for report in reports} == {paris(2026, 11, 23, 14, 0)}


def what_they_read(executed: list[str]) -> Counter:
    """How many statements read each table (by the first table after FROM)."""
    return Counter(
        match[1]
        for statement in executed
        if (match := re.match(r"SELECT\s.*?\sFROM\s+(\w+)", statement, re.S))
    )


def test_a_policy_change_reads_the_open_reports_at_once_and_a_few_statements_each(app, teams):
    """Recomputing runs under the write lock, which holds up every new report on SQLite: its
    cost must not grow by more than a few statements a report."""
    filed = paris(2026, 11, 23, 10, 0)
    for number in range(55):
        # 5 high reports, then 50 medium ones; half of them for each team.
        file_report(
            app,
            filed,
            reporter_severity="high" if number < 5 else "medium",
            category="privacy" if number % 2 else "bias",
        )
    terms = Terms(
        True,
        Span(4, DurationUnit.HOURS),
        Span(1, DurationUnit.BUSINESS_DAYS),
        Span(3, DurationUnit.BUSINESS_DAYS),
    )
    runs = []
    for severity in (Severity.HIGH, Severity.MEDIUM):
        with statements(app) as executed:
            _policy, change = sla_admin.create_policy(PolicyScope(False, severity), terms)
            db.session.commit()
        runs.append((executed, change.payload["deadlines_moved"]))
    (for_five, moved_five), (for_fifty, moved_fifty) = runs

    assert (moved_five, moved_fifty) == (5, 50)
    for table in ("tickets", "teams", "sla_escalations"):  # a batch at a time: one query here
        assert what_they_read(for_fifty)[table] == what_they_read(for_five)[table] == 1
    # The policies are read once, the escalations a batch at a time: each report costs its
    # UPDATE only. 12 statements in all for 5 reports, 57 for 50.
    assert len(for_fifty) - len(for_five) <= 1 * 45


# -- who may change what ------------------------------------------------------------------------


def test_owners_cannot_touch_the_terms_for_every_team_or_another_teams_policy(app, teams, owner):
    everyone = add_policy(app, severity=Severity.MEDIUM)
    for_all_teams_in_a_category = add_policy(app, category=Category.BIAS)
    other_team = add_policy(app, team_id=teams["second-line"])
    own = add_policy(app, team_id=teams["trust-safety"])
    own_token = token(owner, f"{POLICIES}/{own}")

    refused = [
        owner.get(f"{POLICIES}/{policy}").status_code
        for policy in (everyone, for_all_teams_in_a_category, other_team)
    ] + [
        owner.post(
            f"{POLICIES}/{other_team}",
            data={"csrf_token": own_token, **policy_form(team=str(teams["trust-safety"]))},
        ).status_code,
        owner.post(f"{POLICIES}/{everyone}/delete", data={"csrf_token": own_token}).status_code,
    ]
    listing = owner.get(POLICIES).get_data(as_text=True)

    assert refused == [403] * 5
    assert f'href="{POLICIES}/{own}"' in listing
    assert f'href="{POLICIES}/{other_team}"' not in listing
    assert f'href="{POLICIES}/{everyone}"' not in listing
    assert "applies_to=" not in listing  # no "Change" on the built-in terms
    assert len(policies(app)) == 4
    assert audit(app, "sla_policy.updated") == audit(app, "sla_policy.deleted") == []


def test_an_owner_cannot_add_a_policy_for_every_team(app, teams, owner):
    form_page = owner.get(NEW_POLICY).get_data(as_text=True)

    response = submit(owner, NEW_POLICY, policy_form(team=""))
    other_team = submit(owner, NEW_POLICY, policy_form(team=str(teams["second-line"])))

    page = response.get_data(as_text=True)
    assert response.status_code == other_team.status_code == 200
    assert "<title>Error:" in page
    assert "Choose one of your teams" in page
    assert 'href="#team"' in page
    assert "Choose a team from the list" in other_team.get_data(as_text=True)
    assert (
        '<option value="">Any</option>' not in form_page.split('id="team"')[1].split("</select")[0]
    )
    assert policies(app) == []
    assert audit(app, "sla_policy.created") == []


# -- refused answers ----------------------------------------------------------------------------


def test_a_second_policy_for_the_same_reports_is_refused(app, teams, admin):
    answers = policy_form(category="bias", team=str(teams["second-line"]))

    first = submit(admin, NEW_POLICY, answers)
    again = submit(admin, NEW_POLICY, {**answers, "first_response_amount": "2"})
    other = add_policy(app, severity=Severity.MEDIUM, category=Category.BIAS)
    moved_onto_it = submit(admin, f"{POLICIES}/{other}", answers)

    assert first.status_code == 303
    for refused in (again, moved_onto_it):
        assert refused.status_code == 200
        assert "There is already a policy for these reports" in refused.get_data(as_text=True)
    assert policies(app) == [
        (False, Severity.MEDIUM, Category.BIAS, teams["second-line"], 4),
        (False, Severity.MEDIUM, Category.BIAS, None, 4),
    ]
    assert len(audit(app, "sla_policy.created")) == 1
    assert audit(app, "sla_policy.updated") == []


def test_two_administrators_adding_the_same_policy_at_once_get_one_policy(app, teams):
    """The second one's check runs before the first one commits (on PostgreSQL it cannot see
    the first policy): the unique scope key refuses it all the same."""
    scope = PolicyScope(for_appeals=False, severity=Severity.HIGH)
    terms = Terms(True, Span(4, DurationUnit.HOURS), None, Span(3, DurationUnit.BUSINESS_DAYS))
    outcome = {}

    def second_administrator() -> None:
        with app.app_context():
            try:
                sla_admin.create_policy(scope, terms)
                db.session.commit()
                outcome["second"] = "saved"
            except AdminRefused as refusal:
                db.session.rollback()
                outcome["second"] = refusal.reason

    with app.app_context():
        sla_admin.create_policy(scope, terms)  # flushed, not committed yet
        second = threading.Thread(target=second_administrator)
        second.start()
        second.join(timeout=0.5)  # it waits for the first one's transaction meanwhile
        db.session.commit()
    second.join(timeout=30)

    assert outcome == {"second": AdminRefused.SCOPE_TAKEN}
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SlaPolicy)) == 1


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        (
            {"first_response_amount": "0"},
            "Enter the time to the first response as a whole number from 1 to 999",
        ),
        (
            {"first_response_amount": "1000"},
            "Enter the time to the first response as a whole number from 1 to 999",
        ),
        (
            {"resolution_amount": "2.5"},
            "Enter the time to the decision as a whole number from 1 to 999",
        ),
        ({"resolution_amount": ""}, "Enter the time to the decision"),
        (
            {"next_update_amount": "-1"},
            "Enter the time between updates as a whole number from 1 to 999",
        ),
        ({"next_update_amount": ""}, "Only appeals can go without updates"),
    ],
)
def test_invalid_amounts_are_explained_and_nothing_is_saved(app, teams, admin, answers, message):
    report = file_report(app, paris(2026, 11, 23, 10, 0), reporter_severity="medium")
    before = deadlines(app, report)

    response = submit(admin, NEW_POLICY, policy_form(**answers))

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<title>Error:" in page
    assert message in page
    assert policies(app) == []
    assert deadlines(app, report) == before
    assert audit(app, "sla_policy.created") == []


def test_appeals_may_go_without_updates(app, teams, admin):
    response = submit(admin, NEW_POLICY, policy_form(applies_to="appeals", next_update_amount=""))

    assert response.status_code == 303
    with app.app_context():
        policy = db.session.scalar(sa.select(SlaPolicy))
        assert (policy.for_appeals, policy.severity, policy.next_update_amount) == (
            True,
            None,
            None,
        )
    listing = admin.get(POLICIES).get_data(as_text=True).split("Policies for a kind")[0]
    assert listing.count("Built-in default") == 4  # appeals now follow their policy


# -- team calendars -----------------------------------------------------------------------------

WEEK = {day: ("09:00", "17:00") for day in range(5)}  # Monday to Friday


def calendar_form(week=None, **overrides) -> dict:
    """The calendar page's answers: ``week`` maps weekdays (0 = Monday) to (start, end)."""
    answers = {"timezone": "Europe/Paris", "holidays_country": "", "holidays_subdivision": ""}
    for day, (start, end) in (WEEK if week is None else week).items():
        answers.update({f"works_{day}": "y", f"start_{day}": start, f"end_{day}": end})
    return {**answers, **overrides}


def calendar_page(teams) -> str:
    return f"/staff/admin/teams/{teams['trust-safety']}/calendar"


def test_a_team_working_monday_to_thursday_gets_later_deadlines(app, teams, owner):
    # Thursday 26 November 2026, 16:00: 8 working hours of the built-in high terms run to
    # Friday 16:00 on the default week.
    report = file_report(app, paris(2026, 11, 26, 16, 0), reporter_severity="high")
    decided = file_report(app, paris(2026, 11, 26, 16, 0), reporter_severity="high")
    with app.app_context():
        db.session.get(Ticket, decided).status = Status.DECIDED
        db.session.commit()
    assert deadlines(app, report)[0] == paris(2026, 11, 27, 16, 0)
    week = {day: ("09:00", "17:00") for day in range(4)}

    response = submit(owner, calendar_page(teams), calendar_form(week))

    assert response.status_code == 303
    assert "1 open report got new deadlines." in flashed(owner, response)
    # Thursday 16:00-17:00, then Monday 09:00-16:00. The decision, 5 days of 8 hours: Thursday
    # 1 hour, Monday to Thursday 32, then 7 more on Monday 7 December.
    assert deadlines(app, report) == (paris(2026, 11, 30, 16, 0), paris(2026, 12, 7, 16, 0))
    assert deadlines(app, decided)[0] == paris(2026, 11, 27, 16, 0)
    with app.app_context():
        team = db.session.get(Team, teams["trust-safety"])
        assert team.working_hours == [[day, "09:00", "17:00"] for day in range(4)]
    [entry] = audit(app, "team.calendar_changed")
    assert entry.actor_id == f"staff:{owner.user_id}"
    assert entry.object_id == str(teams["trust-safety"])
    payload = json.loads(entry.payload)
    assert payload["changed"] == ["working_hours"]
    assert payload["deadlines_moved"] == 1


def test_public_holidays_and_the_time_zone_are_set_on_the_calendar_page(app, teams, admin):
    # Friday 25 December 2026 is a holiday in Germany. Thursday 24th, 16:00 in Berlin.
    report = file_report(
        app,
        datetime(2026, 12, 24, 16, 0, tzinfo=ZoneInfo("Europe/Berlin")),
        reporter_severity="high",
    )

    response = submit(
        admin,
        calendar_page(teams),
        calendar_form(timezone="Europe/Berlin", holidays_country="DE", holidays_subdivision="by"),
    )

    assert response.status_code == 303
    with app.app_context():
        team = db.session.get(Team, teams["trust-safety"])
        assert (team.timezone, team.holidays_country, team.holidays_subdivision) == (
            "Europe/Berlin",
            "DE",
            "BY",
        )
    # Thursday 16:00-17:00, Christmas Day off, then Monday 09:00-16:00.
    assert deadlines(app, report)[0] == datetime(
        2026, 12, 28, 16, 0, tzinfo=ZoneInfo("Europe/Berlin")
    )
    team_page = admin.get(f"/staff/admin/teams/{teams['trust-safety']}").get_data(as_text=True)
    assert 'Germany (region <span class="reference-inline">BY</span>)' in team_page
    assert 'name="timezone"' not in team_page  # one place for the time zone: the calendar


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        (
            calendar_form(holidays_country="DE", holidays_subdivision="ZZ"),
            "“ZZ” is not a region of Germany. Use one of: BB, BE,",
        ),
        (
            calendar_form(holidays_subdivision="BY"),
            "Choose the country first, or leave the region empty",
        ),
        (
            calendar_form({**WEEK, 2: ("17:00", "09:00")}),
            "On Wednesday, work must end after it starts",
        ),
        (calendar_form({**WEEK, 4: ("9h", "17:00")}), "Enter when work starts on Friday"),
        (calendar_form({}), "Choose at least one working day"),
        (calendar_form(timezone="Mars/Olympus"), "Choose a time zone from the list"),
    ],
)
def test_an_unusable_calendar_is_explained_and_nothing_changes(app, teams, admin, answers, message):
    report = file_report(app, paris(2026, 11, 26, 16, 0), reporter_severity="high")
    before = deadlines(app, report)

    response = submit(admin, calendar_page(teams), answers)

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<title>Error:" in page
    assert message in page
    with app.app_context():
        team = db.session.get(Team, teams["trust-safety"])
        assert (team.timezone, team.working_hours, team.holidays_country) == (
            "Europe/Paris",
            None,
            None,
        )
    assert deadlines(app, report) == before
    assert audit(app, "team.calendar_changed") == []


def test_a_day_with_a_lunch_break_keeps_it_unless_its_times_are_changed(app, teams, admin):
    with app.app_context():
        db.session.get(Team, teams["trust-safety"]).working_hours = [
            [0, "09:00", "12:00"],
            [0, "13:00", "17:00"],
            [1, "09:00", "12:00"],
            [1, "13:00", "17:00"],
        ]
        db.session.commit()
    page = admin.get(calendar_page(teams)).get_data(as_text=True)

    # The page shows each of those days from 09:00 to 17:00; Tuesday's end is changed.
    week = {0: ("09:00", "17:00"), 1: ("09:00", "16:00")}
    response = submit(admin, calendar_page(teams), calendar_form(week, holidays_country="FR"))

    assert "Some days have several working periods" in page
    assert "09:00\N{EN DASH}12:00" in page
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Team, teams["trust-safety"]).working_hours == [
            [0, "09:00", "12:00"],
            [0, "13:00", "17:00"],
            [1, "09:00", "16:00"],
        ]


def test_overlapping_periods_kept_for_a_day_are_shown_on_that_days_hours(app, teams, admin):
    # Stored before the calendar page checked them: Monday's two periods overlap.
    with app.app_context():
        db.session.get(Team, teams["trust-safety"]).working_hours = [
            [0, "09:00", "13:00"],
            [0, "12:00", "17:00"],
            [1, "09:00", "17:00"],
        ]
        db.session.commit()

    # Monday shows from 09:00 to 17:00 and is sent back so, which keeps its two periods.
    week = {0: ("09:00", "17:00"), 1: ("09:00", "17:00")}
    response = submit(admin, calendar_page(teams), calendar_form(week, holidays_country="FR"))

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<title>Error:" in page
    summary = page.split('class="error-summary"')[1].split("</ul>")[0]
    assert '<a href="#start_0">The working periods kept for Monday overlap' in summary
    assert "#timezone" not in summary
    assert 'id="start_0-error"' in page
    with app.app_context():
        assert db.session.get(Team, teams["trust-safety"]).holidays_country is None
    assert audit(app, "team.calendar_changed") == []


def test_the_regions_to_choose_from_are_listed_the_viewers_way(app, teams, admin):
    answers = calendar_form(holidays_country="DE", holidays_subdivision="ZZ")

    english = submit(admin, calendar_page(teams), answers).get_data(as_text=True)
    admin.set_cookie(LOCALE_COOKIE, "fr", domain="redress.test")
    french = submit(admin, calendar_page(teams), answers).get_data(as_text=True)

    assert "Use one of: BB, BE, BW," in english
    assert "SN, ST, TH, or Augsburg" in english
    assert "SN, ST, TH ou Augsburg" in french
    assert "Allemagne" in french


def test_another_teams_calendar_is_refused_to_an_owner(app, teams, owner):
    other = f"/staff/admin/teams/{teams['second-line']}/calendar"

    page = owner.get(other)
    post = owner.post(
        other,
        data={"csrf_token": token(owner, calendar_page(teams)), **calendar_form({0: WEEK[0]})},
    )

    assert page.status_code == post.status_code == 403
    with app.app_context():
        assert db.session.get(Team, teams["second-line"]).working_hours is None


@pytest.mark.parametrize(
    ("zone", "hours", "problem"),
    [
        ("Europe/Paris", [], "no working time in the week"),
        ("Mars/Olympus", [(0, time(9), time(17))], "'Mars/Olympus' is not a time zone"),
    ],
)
def test_the_service_refuses_a_calendar_the_timers_cannot_run_on(app, teams, zone, hours, problem):
    with app.app_context():
        team = db.session.get(Team, teams["trust-safety"])

        with pytest.raises(UnusableCalendar) as refused:
            set_team_calendar(
                team,
                timezone=zone,
                working_hours=hours,
                holidays_country=None,
                holidays_subdivision=None,
            )

        assert any(problem in text for text in refused.value.problems)
        assert (team.timezone, team.working_hours) == ("Europe/Paris", None)
