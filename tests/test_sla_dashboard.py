"""The SLA dashboard: each team's open reports by where their deadlines stand, and how the last
30 days went (targets met on time, median times), for owners (their teams) and administrators
(every team, and the reports no team owns yet), as a chart and as a table with the same
numbers."""

import html
import re
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from babel.numbers import format_percent

from portal.clock import utcnow
from portal.extensions import db
from portal.models import Role, SlaState, Status, Ticket
from portal.services import sla
from portal.services.redress_report import RedressFigures
from portal.services.sla_report import (
    Compliance,
    SlaReport,
    Standing,
    TeamFigures,
    report_for,
)
from portal.services.tickets import withdraw
from portal.views.dashboard import bar_chart, render_dashboard
from tests.factories import make_staff, make_team, make_ticket
from tests.signing_in import sign_in
from tests.test_queue import listed
from tests.test_security import inline_code

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
# A deadline that falls in no window of these tests.
FAR = timedelta(days=400)


@pytest.fixture(autouse=True)
def _admins_sign_in_with_a_password(app_config):
    # The second factor has tests of its own; here it would only add steps.
    app_config["PORTAL_TOTP_REQUIRED_FOR_ADMINS"] = False


@pytest.fixture
def teams(app) -> dict[str, int]:
    """Two teams with no members: {slug: id}."""
    with app.app_context():
        alpha = make_team("alpha", "Alpha team")
        beta = make_team("beta", "Beta team")
        db.session.commit()
        return {"alpha": alpha.id, "beta": beta.id}


def report(app, team_id: int | None, *, now: datetime = NOW, created=None, **columns) -> str:
    """A report of ``team_id`` sent ``created`` (a day before ``now`` unless given), then with
    ``columns`` set as the SLA service would have left them. Every deadline not given is far
    away, so that it counts nowhere. Commits; returns its reference."""
    created = created or now - timedelta(days=1)
    with app.app_context():
        ticket, _token = make_ticket(app, now=created)
        ticket.team_id = team_id
        defaults = {
            "first_response_due_at": now + FAR,
            "resolve_due_at": now + FAR,
            "next_due_at": now + FAR,
            "at_risk_at": now + FAR,
            "first_response_at": None,
            "decided_at": None,
        }
        for column, value in {**defaults, **columns}.items():
            setattr(ticket, column, value)
        db.session.commit()
        return ticket.reference


def on_time(app, team_id, now=NOW, **columns):
    return report(app, team_id, now=now, next_due_at=now + timedelta(hours=10), **columns)


def at_risk(app, team_id, now=NOW, **columns):
    return report(
        app,
        team_id,
        now=now,
        next_due_at=now + timedelta(hours=2),
        at_risk_at=now - timedelta(hours=1),
        **columns,
    )


def breached(app, team_id, now=NOW, **columns):
    return report(app, team_id, now=now, next_due_at=now - timedelta(hours=1), **columns)


def awaiting_reporter(app, team_id, now=NOW, **columns):
    """Its clocks stopped (three hours ago unless ``sla_paused_at`` says when)."""
    paused = {
        "status": Status.AWAITING_REPORTER,
        "sla_paused_at": now - timedelta(hours=3),
        "next_due_at": None,
        "at_risk_at": None,
    }
    return report(app, team_id, now=now, **{**paused, **columns})


def figures_of(app, team_ids, now=NOW) -> SlaReport:
    with app.app_context():
        return report_for(team_ids, now=now)


def row(result: SlaReport, name: str | None) -> TeamFigures:
    return next(figures for figures in result.rows if figures.name == name)


# -- now: where the open reports stand ----------------------------------------------------------


def test_open_reports_are_counted_by_where_their_deadlines_stand(app, teams):
    alpha, beta = teams["alpha"], teams["beta"]
    on_time(app, alpha)
    at_risk(app, alpha)
    breached(app, alpha)
    awaiting_reporter(app, alpha)
    breached(app, beta)

    result = figures_of(app, None)

    assert row(result, "Alpha team").standing == Standing(
        open=4, awaiting_reporter=1, on_time=1, at_risk=1, breached=1
    )
    assert row(result, "Beta team").standing == Standing(open=1, breached=1)
    assert result.total.standing == Standing(
        open=5, awaiting_reporter=1, on_time=1, at_risk=1, breached=2
    )


def test_closed_reports_and_spam_are_not_counted_as_open(app, teams):
    alpha = teams["alpha"]
    on_time(app, alpha)
    # Past their deadlines, so that they would show as breached if they were counted.
    breached(app, alpha, status=Status.CLOSED)
    breached(app, alpha, status=Status.DECIDED)
    breached(app, alpha, is_spam=True)

    result = figures_of(app, {alpha})

    assert row(result, "Alpha team").standing == Standing(open=1, on_time=1)


# -- the last 30 days: targets met on time, and missed -------------------------------------------


def test_compliance_counts_targets_met_on_time_against_those_missed_in_the_window(app, teams):
    alpha = teams["alpha"]
    day = timedelta(days=1)
    # First responses: one early, one at the very deadline, one late, and one not given
    # although it fell due: 2 of 4.
    report(app, alpha, first_response_due_at=NOW - 4 * day, first_response_at=NOW - 5 * day)
    report(app, alpha, first_response_due_at=NOW - 6 * day, first_response_at=NOW - 6 * day)
    report(app, alpha, first_response_due_at=NOW - 3 * day, first_response_at=NOW - 2 * day)
    report(app, alpha, first_response_due_at=NOW - 1 * day)
    # Not counted: not due yet; met before the window; due before it (and met late in it).
    report(app, alpha, first_response_due_at=NOW + day)
    report(app, alpha, first_response_due_at=NOW - 39 * day, first_response_at=NOW - 40 * day)
    report(app, alpha, first_response_due_at=NOW - 35 * day, first_response_at=NOW - 10 * day)
    # Decisions: three on time, one late: 3 of 4.
    for days in (1, 2, 3):
        report(
            app,
            alpha,
            status=Status.DECIDED,
            resolve_due_at=NOW + day,
            decided_at=NOW - days * day,
        )
    report(app, alpha, status=Status.DECIDED, resolve_due_at=NOW - 2 * day, decided_at=NOW - day)

    result = figures_of(app, {alpha})

    alpha_figures = row(result, "Alpha team")
    assert alpha_figures.first_response == Compliance(met=2, missed=2)
    assert alpha_figures.resolution == Compliance(met=3, missed=1)
    assert alpha_figures.resolution.share == 0.75


def test_a_target_whose_clock_had_stopped_or_whose_report_is_gone_is_not_missed(app, teams):
    alpha = teams["alpha"]
    past = NOW - timedelta(days=2)
    # Waiting for the reporter since before the deadline: it moves once they answer.
    awaiting_reporter(app, alpha, resolve_due_at=past, sla_paused_at=past - timedelta(hours=1))
    # Withdrawn before its deadline came (no breach was recorded for it).
    report(app, alpha, status=Status.WITHDRAWN, resolve_due_at=past)
    report(
        app,
        alpha,
        status=Status.CLOSED,
        is_spam=True,
        first_response_due_at=past,
        first_response_at=past - timedelta(hours=1),
    )
    # Waiting for the reporter only since after the deadline: missed all the same.
    awaiting_reporter(app, alpha, resolve_due_at=past, sla_paused_at=past + timedelta(hours=1))

    alpha_figures = row(figures_of(app, {alpha}), "Alpha team")

    assert alpha_figures.first_response == Compliance()
    assert alpha_figures.resolution == Compliance(met=0, missed=1)


def critical_report_of(app, team_id: int, *, sent: datetime) -> int:
    """A critical report sent at ``sent``, through the service: on the built-in terms (around
    the clock) its first response is due an hour later and its decision a day later. Returns
    its id."""
    with app.app_context():
        ticket, _token = make_ticket(app, now=sent, reporter_severity="critical")
        ticket.team_id = team_id
        db.session.commit()
        assert ticket.first_response_due_at == sent + timedelta(hours=1)
        assert ticket.resolve_due_at == sent + timedelta(days=1)
        return ticket.id


def sweep_and_withdraw(app, ticket_id: int, *, swept: datetime, withdrawn: datetime) -> None:
    """The clock's sweep at ``swept`` and the reporter's withdrawal at ``withdrawn``, in the
    order they happened, each committed as the clock and the request would."""
    steps = sorted([(swept, "sweep"), (withdrawn, "withdraw")])
    for moment, step in steps:
        with app.app_context():
            if step == "sweep":
                sla.sweep(now=moment)
            else:
                withdraw(db.session.get(Ticket, ticket_id), reason=None, now=moment)
            db.session.commit()


def test_a_report_withdrawn_after_its_deadline_passed_still_counts_as_missed(app, teams):
    alpha = teams["alpha"]
    sent = NOW - timedelta(days=3)
    ticket_id = critical_report_of(app, alpha, sent=sent)
    # Nobody answered within the hour; the sweep breached it; the reporter gave up.
    sweep_and_withdraw(
        app, ticket_id, swept=sent + timedelta(hours=2), withdrawn=sent + timedelta(hours=3)
    )

    alpha_figures = row(figures_of(app, {alpha}), "Alpha team")

    assert alpha_figures.first_response == Compliance(met=0, missed=1)
    # Its decision was due a day after it was sent, long after it was withdrawn: neither.
    assert alpha_figures.resolution == Compliance()


def test_a_report_withdrawn_before_its_deadline_counts_neither_way(app, teams):
    alpha = teams["alpha"]
    sent = NOW - timedelta(days=3)
    ticket_id = critical_report_of(app, alpha, sent=sent)
    sweep_and_withdraw(
        app, ticket_id, swept=sent + timedelta(hours=2), withdrawn=sent + timedelta(minutes=30)
    )

    alpha_figures = row(figures_of(app, {alpha}), "Alpha team")

    assert alpha_figures.first_response == Compliance()
    assert alpha_figures.resolution == Compliance()


def test_a_team_without_targets_in_the_window_has_no_data_rather_than_zero(app, teams):
    result = figures_of(app, None)

    beta = row(result, "Beta team")
    assert beta.first_response.share is None
    assert beta.first_response.shown_share is None
    assert beta.median_first_response is None
    assert beta.median_decision is None


@pytest.mark.parametrize(
    ("met", "missed", "shown"),
    [(199, 1, 0.99), (1, 199, 0.01), (1, 2, 0.33), (3, 1, 0.75), (4, 0, 1.0), (0, 3, 0.0)],
)
def test_the_percentage_shown_is_never_100_with_a_miss_nor_0_with_a_target_met(met, missed, shown):
    assert Compliance(met=met, missed=missed).shown_share == shown


def test_medians_are_wall_clock_times_from_submission_and_the_total_pools_every_team(app, teams):
    alpha, beta = teams["alpha"], teams["beta"]
    sent = NOW - timedelta(days=10)
    hour, day = timedelta(hours=1), timedelta(days=1)
    for hours in (1, 2, 8):
        report(app, alpha, created=sent, first_response_at=sent + hours * hour)
    for hours, days in ((4, 2), (5, 4)):
        report(
            app,
            alpha,
            created=sent,
            status=Status.DECIDED,
            first_response_at=sent + hours * hour,
            decided_at=sent + days * day,
        )
    report(app, beta, created=sent, first_response_at=sent + 10 * hour)
    # In no median: answered and decided before the window; spam.
    long_ago = NOW - 60 * day
    report(
        app,
        alpha,
        created=long_ago,
        status=Status.DECIDED,
        first_response_at=long_ago + 20 * day,
        decided_at=long_ago + 25 * day,
    )
    report(
        app,
        alpha,
        created=sent,
        status=Status.DECIDED,
        is_spam=True,
        first_response_at=sent + 9 * day,
        decided_at=sent + 9 * day,
    )

    result = figures_of(app, None)

    alpha_figures = row(result, "Alpha team")
    assert alpha_figures.median_first_response == 4 * hour  # of 1, 2, 4, 5 and 8 hours
    assert alpha_figures.median_decision == 3 * day  # between 2 and 4 days
    assert row(result, "Beta team").median_first_response == 10 * hour
    # Of 1, 2, 4, 5, 8 and 10 hours together, not the teams' medians' (7 hours).
    assert result.total.median_first_response == timedelta(hours=4, minutes=30)


# -- who sees which teams -------------------------------------------------------------------------


def test_an_owners_figures_are_their_teams_only(app, teams):
    alpha, beta = teams["alpha"], teams["beta"]
    breached(app, alpha)
    breached(app, beta)
    breached(app, None)

    result = figures_of(app, {alpha})

    assert [figures.name for figures in result.rows] == ["Alpha team"]
    assert result.unowned is None
    assert result.total.standing == Standing(open=1, breached=1)


def test_an_administrator_sees_every_team_and_the_reports_no_team_owns(app, teams):
    breached(app, teams["alpha"])
    breached(app, None)
    on_time(app, None)

    result = figures_of(app, None)

    assert [figures.name for figures in result.teams] == ["Alpha team", "Beta team"]
    assert result.unowned.standing == Standing(open=2, on_time=1, breached=1)
    assert row(result, "Beta team").standing == Standing()
    assert result.total.standing == Standing(open=3, on_time=1, breached=2)


@contextmanager
def statements(app):
    """The SQL statements run inside the block, as a list that fills as they run."""
    executed = []

    def record(_conn, _cursor, statement, *_args):
        executed.append(statement)

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", record)
        try:
            yield executed
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", record)


def test_the_figures_cost_the_same_few_queries_however_many_teams(app, teams):
    breached(app, teams["alpha"])
    with statements(app) as for_two_teams:
        report_for(None, now=NOW)
    with app.app_context():
        for number in range(8):
            make_team(f"extra-{number}", f"Extra {number}")
        db.session.commit()
    with statements(app) as for_ten_teams:
        report_for(None, now=NOW)

    assert len(for_ten_teams) == len(for_two_teams) <= 6


def test_an_owner_without_a_team_gets_no_figures_and_no_query(app):
    with statements(app) as executed:
        result = report_for(set(), now=NOW)

    assert result.rows == []
    assert executed == []


# -- the chart ------------------------------------------------------------------------------------


def figures(name: str, **standing) -> TeamFigures:
    return TeamFigures(
        team_id=1,
        name=name,
        standing=Standing(**standing),
        first_response=Compliance(),
        resolution=Compliance(),
        median_first_response=None,
        median_decision=None,
    )


def test_bars_share_one_scale_and_mirror_for_right_to_left_languages():
    rows = [
        figures("A", open=4, on_time=2, at_risk=1, breached=1),
        figures("B", open=1, breached=1),
    ]

    left_to_right = bar_chart(rows, rtl=False)
    right_to_left = bar_chart(rows, rtl=True)

    assert left_to_right.scale == 4
    assert [(s.state, s.x, s.width) for s in left_to_right.bars[0].segments] == [
        (SlaState.ON_TIME, 0, 50),
        (SlaState.AT_RISK, 50, 25),
        (SlaState.BREACHED, 75, 25),
    ]
    assert [(s.state, s.x, s.width) for s in right_to_left.bars[0].segments] == [
        (SlaState.ON_TIME, 50, 50),
        (SlaState.AT_RISK, 25, 25),
        (SlaState.BREACHED, 0, 25),
    ]
    assert [(s.x, s.width) for s in right_to_left.bars[1].segments] == [(75, 25)]


def test_a_chart_with_nothing_running_or_huge_numbers_stays_inside_its_width():
    idle = bar_chart([figures("Paused", open=3, awaiting_reporter=3)], rtl=False)
    huge = bar_chart(
        [figures("Huge", open=10**15 + 2, on_time=10**15, at_risk=1, breached=1)], rtl=True
    )

    assert idle.scale == 0
    assert idle.bars[0].segments == []
    assert all(s.x >= 0 and s.x + s.width <= 100 + 1e-9 for s in huge.bars[0].segments)


# -- the page -------------------------------------------------------------------------------------


def signed_in(app, email: str, roles, team_slugs=()):
    client = app.test_client()
    make_staff(app, email=email, roles=roles, name=email, team_slugs=team_slugs)
    assert sign_in(client, email=email).status_code == 303
    return client


@pytest.fixture
def admin(app, teams):
    return signed_in(app, "admin@example.org", (Role.ADMIN,))


@pytest.fixture
def owner(app, teams):
    """The owner of Alpha team."""
    return signed_in(app, "owner@example.org", (Role.OWNER, Role.AGENT), team_slugs=("alpha",))


@pytest.fixture
def now():
    """The pages read the real clock: their reports are placed around it."""
    return utcnow()


class PageReader(HTMLParser):
    """The parts of the page a test reads: each table's rows as the visible text of their cells
    (by caption, and in order), the links in them with all their words, and the chart's title
    and description."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.table_list: list[list[list[str]]] = []
        self.links: dict[str, str] = {}  # a link's words, hidden ones too -> its address
        self.svg: dict[str, str] = {}
        self.ids: set[str] = set()
        self._path: list[str] = []
        self._text: list[str] = []
        self._table: list[list[str]] | None = None
        self._href: str | None = None
        self._link_text: list[str] = []
        self._hidden: list[str] = []  # the open tags of text for screen readers only

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.add(attributes["id"])
        if tag == "svg" and attributes.get("role") == "img":
            self.svg["labelledby"] = attributes.get("aria-labelledby", "")
        self._path.append(tag)
        if self._hidden or "visually-hidden" in (attributes.get("class") or "").split():
            self._hidden.append(tag)
        if tag == "table":
            self._table = []
            self.table_list.append(self._table)
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th", "caption", "title", "desc"):
            self._text = []
        elif tag == "a" and self._table is not None:
            self._href, self._link_text = attributes["href"], []

    def handle_endtag(self, tag):
        self._path.pop()
        if self._hidden:
            self._hidden.pop()
            return
        text = squeeze("".join(self._text))
        if tag == "caption":
            self.tables[text] = self._table
        elif tag in ("td", "th") and self._table is not None:
            self._table[-1].append(text)
        elif tag in ("title", "desc") and "svg" in self._path:
            self.svg[tag] = text
        elif tag == "a" and self._href is not None:
            self.links[squeeze("".join(self._link_text))] = self._href
            self._href = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if not self._hidden:
            self._text.append(data)
        if self._href is not None:
            self._link_text.append(data)


def squeeze(text: str) -> str:
    """Markup's white space as one space; a no-break space is the locale's and is kept."""
    return re.sub(r"[ \t\r\n]+", " ", text).strip()


def read(response) -> PageReader:
    assert response.status_code == 200
    reader = PageReader()
    reader.feed(response.get_data(as_text=True))
    reader.close()
    return reader


def cells(page: PageReader, caption: str, team: str) -> list[str]:
    return next(row[1:] for row in page.tables[caption] if row and row[0] == team)


NOW_TABLE = "Open reports now, by team"
PERIOD_TABLE = "The last 30 days, by team"


def test_the_chart_describes_in_words_what_the_table_counts(app, admin, teams, now):
    alpha = teams["alpha"]
    on_time(app, alpha, now)
    at_risk(app, alpha, now)
    breached(app, alpha, now)
    breached(app, alpha, now)
    awaiting_reporter(app, alpha, now)

    page = read(admin.get("/staff/sla"))

    assert page.svg["labelledby"].split() == ["sla-chart-title", "sla-chart-desc"]
    assert {"sla-chart-title", "sla-chart-desc"} <= page.ids
    assert page.svg["title"]
    assert (
        "Alpha team: 1 on time, 1 at risk, and 2 breached; 1 waiting for the reporter."
        in page.svg["desc"]
    )
    assert "Beta team: No open reports." in page.svg["desc"]
    assert "The longest bar stands for 4 reports." in page.svg["desc"]
    # Open, waiting for the reporter, on time, at risk, breached.
    assert cells(page, NOW_TABLE, "Alpha team") == ["5", "1", "1", "1", "2"]
    assert cells(page, NOW_TABLE, "Beta team") == ["0", "0", "0", "0", "0"]


def test_at_risk_and_breached_figures_lead_to_the_queue_filtered_to_the_team(
    app, admin, teams, now
):
    alpha, beta = teams["alpha"], teams["beta"]
    counted = {
        "at_risk": {at_risk(app, alpha, now), at_risk(app, alpha, now)},
        "breached": {breached(app, alpha, now)},
    }
    # In neither figure: on time or waiting in the same team; at risk or breached in another.
    on_time(app, alpha, now)
    awaiting_reporter(app, alpha, now)
    at_risk(app, beta, now)
    breached(app, beta, now)

    page = read(admin.get("/staff/sla"))

    for state, label in (("at_risk", "At risk"), ("breached", "Breached")):
        references = counted[state]
        address = page.links[f"{len(references)} ({label} in Alpha team: show them in the queue)"]
        assert urlsplit(address).path == "/staff/queue"
        assert parse_qs(urlsplit(address).query) == {"team": [str(alpha)], "sla": [state]}
        queue_page = admin.get(address)
        assert queue_page.status_code == 200
        shown = listed(html.unescape(queue_page.get_data(as_text=True)))
        assert sorted(shown) == sorted(references)


def test_an_owner_sees_their_team_and_an_administrator_every_team_and_the_unowned(
    app, owner, admin, teams, now
):
    breached(app, teams["alpha"], now)
    breached(app, teams["beta"], now)
    breached(app, None, now)

    owners_page = read(owner.get("/staff/sla"))
    admins_page = read(admin.get("/staff/sla"))

    owner_rows = [row[0] for row in owners_page.tables[NOW_TABLE][1:]]
    admin_rows = [row[0] for row in admins_page.tables[NOW_TABLE][1:]]
    assert owner_rows == ["Alpha team", "All teams shown"]
    assert admin_rows == ["Alpha team", "Beta team", "No team yet", "All teams shown"]
    assert cells(admins_page, NOW_TABLE, "All teams shown") == ["3", "0", "0", "0", "3"]
    assert "Beta team" not in owners_page.svg["desc"]


def test_compliance_and_medians_are_shown_in_the_viewers_language(app, admin, teams, now):
    alpha = teams["alpha"]
    sent = now - timedelta(days=5)
    # First responses 3 and 5 hours after sending, both on time; decisions after 2 days (on
    # time) and 4 days (a day late).
    for hours, decided_days in ((3, 2), (5, 4)):
        report(
            app,
            alpha,
            now=now,
            created=sent,
            status=Status.DECIDED,
            first_response_due_at=sent + timedelta(hours=8),
            first_response_at=sent + timedelta(hours=hours),
            resolve_due_at=sent + timedelta(days=3),
            decided_at=sent + timedelta(days=decided_days),
        )

    english = read(admin.get("/staff/sla"))
    french = read(admin.get("/staff/sla", headers={"Accept-Language": "fr"}))

    assert cells(english, PERIOD_TABLE, "Alpha team") == [
        "100% 2 of 2 targets met",
        "50% 1 of 2 targets met",
        "4 hours",
        "3 days",
    ]
    assert cells(english, PERIOD_TABLE, "Beta team") == ["No data"] * 4
    # The same table in French, found by its place (its caption will be translated).
    french_alpha = next(row[1:] for row in french.table_list[1] if row[0] == "Alpha team")
    assert french_alpha[0].startswith(format_percent(1, locale="fr"))
    assert french_alpha[1].startswith(format_percent(0.5, locale="fr"))


def test_the_page_has_no_inline_code_and_copes_with_no_reports_at_all(app, admin):
    response = admin.get("/staff/sla")

    page = read(response)
    assert inline_code(response) == []
    assert "None of these teams has a report whose clocks are running." in response.get_data(
        as_text=True
    )
    assert cells(page, NOW_TABLE, "No team yet") == ["0", "0", "0", "0", "0"]
    assert cells(page, PERIOD_TABLE, "All teams shown") == ["No data"] * 4


def test_a_team_whose_reports_all_wait_for_the_reporter_has_no_bar_but_is_counted(
    app, owner, teams, now
):
    awaiting_reporter(app, teams["alpha"], now)

    response = owner.get("/staff/sla")

    assert "None of these teams has a report whose clocks are running." in response.get_data(
        as_text=True
    )
    assert cells(read(response), NOW_TABLE, "Alpha team") == ["1", "1", "0", "0", "0"]


def test_an_owner_of_no_team_is_told_so(app, teams):
    lonely = signed_in(app, "lonely@example.org", (Role.OWNER, Role.AGENT))

    response = lonely.get("/staff/sla")

    assert response.status_code == 200
    assert "You do not lead any team yet" in response.get_data(as_text=True)
    assert "<table" not in response.get_data(as_text=True)


def test_the_page_renders_very_large_figures(app, teams):
    huge = 10**15
    standing = Standing(open=huge + 2, on_time=huge, at_risk=1, breached=1)
    big = TeamFigures(
        team_id=teams["alpha"],
        name="Alpha team",
        standing=standing,
        first_response=Compliance(met=huge, missed=1),
        resolution=Compliance(),
        median_first_response=timedelta(days=9999),
        median_decision=None,
    )
    result = SlaReport(
        now=NOW, since=NOW - timedelta(days=30), teams=[big], unowned=None, total=big
    )

    with app.test_request_context("/staff/sla"):
        html = render_dashboard(result, RedressFigures())

    assert "1,000,000,000,000,002" in html
    assert "99%" in html
