"""The staff triage queue: what each member of staff sees, how they narrow and order it, how they
page through it, and what the bulk actions do (and refuse to do)."""

import html
import re
from datetime import UTC, datetime, timedelta
from itertools import count
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from portal.clock import utcnow
from portal.extensions import db
from portal.models import (
    AIModel,
    AuditEntry,
    Category,
    EventKind,
    OutboxMessage,
    ReporterRole,
    Role,
    Severity,
    SlaState,
    StaffUser,
    Status,
    Team,
    Ticket,
    TicketEvent,
    TicketKind,
)
from portal.models.tickets import SEVERITY_PRIORITY
from portal.services import queue as queue_service
from portal.services import sla
from portal.services.queue import (
    COUNT_CAP,
    NOTHING_DUE_STATUSES,
    BulkAction,
    BulkKind,
    QueueFilters,
    QueueSort,
    apply_bulk_action,
    load_page,
)
from tests.conftest import CSRF_PATTERN, hidden_value
from tests.factories import make_staff, make_team, make_ticket
from tests.signing_in import sign_in

AGENT = "agent@example.org"
COLLEAGUE = "colleague@example.org"
OUTSIDER = "outsider@example.org"
ADMIN = "admin@example.org"
CANARY = "canary-7f3e9 from the second line"

ROW_REFERENCE = re.compile(r'<th scope="row">\s*<(?:a|span)[^>]*>([^<]+)</')
SELECT_BOX = re.compile(
    r'name="tickets" value="([0-9]+:[0-9]+)">\s*<label[^>]*>.*?Select ([A-Z0-9-]+)<'
)
NEXT_PAGE = re.compile(r'href="([^"]+)" rel="next"')


@pytest.fixture
def app_config(app_config):
    # Administrators sign in here with a password only (two-step sign-in has its own tests).
    app_config["PORTAL_TOTP_REQUIRED_FOR_ADMINS"] = False
    return app_config


@pytest.fixture
def staff(app, registry):
    """Two teams: an agent and a colleague in trust-safety, an outsider in the second line, and
    an administrator in no team. Returns {email: id}, and team ids under "teams"."""
    with app.app_context():
        make_team("second-line", "Second line")
        db.session.commit()
    people = {
        AGENT: make_staff(app, AGENT, team_slugs=("trust-safety",)),
        COLLEAGUE: make_staff(app, COLLEAGUE, name="Cole League", team_slugs=("trust-safety",)),
        OUTSIDER: make_staff(app, OUTSIDER, name="Otto Sider", team_slugs=("second-line",)),
        ADMIN: make_staff(app, ADMIN, roles=(Role.ADMIN,), name="Ada Admin"),
    }
    with app.app_context():
        people["teams"] = {team.slug: team.id for team in db.session.scalars(sa.select(Team))}
    return people


def add_ticket(app, team="trust-safety", *, status=None, assignee=None, created_at=None, **fields):
    """A report submitted through the service, then moved to ``team`` (and the given status,
    assignee and time) directly. Returns its reference."""
    with app.app_context():
        ticket, _ = make_ticket(app, **fields)
        ticket.team = db.session.scalar(sa.select(Team).where(Team.slug == team))
        if status is not None:
            before, ticket.status = ticket.status, status
            # As every status change does: the clocks pause, restart or stop with it.
            sla.status_changed(ticket, before, now=utcnow())
        ticket.assignee_id = assignee
        if created_at is not None:
            ticket.created_at = created_at
        db.session.commit()
        return ticket.reference


_numbers = count(1)


def ticket_row(team_id: int, created_at: datetime, **fields) -> dict:
    """A ``tickets`` row for a bulk insert: every column without a default, filled."""
    number = next(_numbers)
    row = {
        "reference": f"RP-{number:04d}-{number // 10_000:04d}"[:16],
        "kind": TicketKind.HARM_REPORT,
        "status": Status.NEW,
        "reporter_role": ReporterRole.SELF,
        "team_id": team_id,
        "output_text": "The output.",
        "description": f"Report number {number}.",
        "category": Category.MISINFORMATION,
        "reporter_severity": Severity.MEDIUM,
        "priority": SEVERITY_PRIORITY[Severity.MEDIUM],
        "locale": "en",
        "timezone": "UTC",
        "tracking_token_hash": f"{number:064x}",
        "submission_key_hash": f"{number:064x}",
        "created_at": created_at,
        "updated_at": created_at,
    }
    row.update(fields)
    return row


def listed(page: str) -> list[str]:
    """The references in the queue's table, in the order shown."""
    return ROW_REFERENCE.findall(page)


def queue(client, **args) -> str:
    response = client.get("/staff/queue", query_string=args)
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def selection(page: str, references) -> list[str]:
    """The checkbox values of ``references`` on a queue page."""
    boxes = {reference: value for value, reference in SELECT_BOX.findall(page)}
    return [boxes[reference] for reference in references]


NEXT_FIELD = re.compile(r'name="next" type="hidden" value="([^"]*)"')


def bulk(client, page: str, references, action: str, next_page=None):
    """Tick ``references`` on ``page`` and apply ``action``, sending back the page's own
    ``next`` (the view to return to) unless told otherwise."""
    if next_page is None:
        next_page = hidden_value(page, NEXT_FIELD)
    return client.post(
        "/staff/queue/bulk",
        data={
            "csrf_token": hidden_value(page, CSRF_PATTERN),
            "tickets": selection(page, references),
            "action": action,
            "next": next_page,
        },
    )


def ticket_by_reference(reference: str) -> Ticket:
    return db.session.scalar(sa.select(Ticket).where(Ticket.reference == reference))


def with_deadlines(app, reference: str, *, due, at_risk=None, paused=False) -> str:
    """Give a report the deadlines the SLA service would have left on it: ``due`` its earliest
    running deadline (None: nothing runs), ``at_risk`` when it passed its warning point;
    ``paused``: it awaits the reporter, and its clocks stand still. Returns its reference."""
    with app.app_context():
        ticket = ticket_by_reference(reference)
        ticket.next_due_at, ticket.at_risk_at = due, at_risk
        if paused:
            ticket.status, ticket.sla_paused_at = Status.AWAITING_REPORTER, ticket.created_at
        db.session.commit()
    return reference


ROW = re.compile(r'<th scope="row">.*?(RP-[0-9A-Z-]+).*?</th>(.*?)</tr>', re.DOTALL)


def next_due_cells(page: str) -> dict[str, str]:
    """Each row's "Next due" cell (the last one), by reference, as text with its tags' words."""
    return {
        reference: re.findall(r"<td>(.*?)</td>", cells, re.DOTALL)[-1]
        for reference, cells in ROW.findall(page)
    }


# -- who sees what ------------------------------------------------------------------------------


def test_the_workspace_opens_on_the_queue(app, client, staff):
    sign_in(client)

    response = client.get("/staff/")

    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/queue"


def test_an_agent_sees_only_their_teams_reports(app, client, staff):
    ours = add_ticket(app)
    theirs = add_ticket(app, "second-line", description=CANARY, output_text=CANARY)
    sign_in(client)

    pages = [
        queue(client),
        queue(client, status="any"),
        queue(client, q="canary"),
        queue(client, q=theirs),
        queue(client, sort="severity"),
        queue(client, assignee="unassigned"),
    ]

    assert ours in pages[0]
    for page in pages:
        assert CANARY not in page
        assert theirs not in listed(page)
    assert "Second line" not in pages[0], "another team is not even offered as a filter"
    assert "Otto Sider" not in pages[0], "nor its members"


def test_a_team_the_agent_is_not_in_shows_an_error_and_no_reports(app, client, staff):
    add_ticket(app)
    add_ticket(app, "second-line", description=CANARY)
    sign_in(client)

    page = queue(client, team=staff["teams"]["second-line"])

    assert "There is a problem" in page
    assert "Choose an option from the list" in page
    assert "<title>Error:" in page
    assert listed(page) == []
    assert CANARY not in page


def test_an_administrator_sees_every_team(app, client, staff):
    ours = add_ticket(app)
    theirs = add_ticket(app, "second-line")
    sign_in(client, email=ADMIN)

    everything = queue(client)
    second_line = queue(client, team=staff["teams"]["second-line"])

    assert set(listed(everything)) == {ours, theirs}
    assert listed(second_line) == [theirs]


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.ANALYST])
def test_staff_who_do_not_work_on_cases_cannot_open_the_queue(app, client, staff, role):
    make_staff(app, "reader@example.org", roles=(role,))
    sign_in(client, email="reader@example.org")

    token = hidden_value(client.get("/").get_data(as_text=True), CSRF_PATTERN)

    assert client.get("/staff/queue").status_code == 403
    assert client.post("/staff/queue/bulk", data={"csrf_token": token}).status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(app, client):
    response = client.get("/staff/queue?status=any")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/sign-in?next=")


# -- filters ------------------------------------------------------------------------------------


def test_the_default_view_holds_what_still_needs_someone(app, client, staff):
    waiting = {
        add_ticket(app, status=status)
        for status in (
            Status.NEW,
            Status.TRIAGED,
            Status.INVESTIGATING,
            Status.AWAITING_REPORTER,
            Status.APPEALED,
        )
    }
    decided = add_ticket(app, status=Status.DECIDED)
    closed = add_ticket(app, status=Status.CLOSED)
    sign_in(client)

    assert set(listed(queue(client))) == waiting
    assert set(listed(queue(client, status="any"))) == waiting | {decided, closed}
    assert listed(queue(client, status="closed")) == [closed]
    assert "1 filter applied" in queue(client, status="any")


def test_each_filter_narrows_the_queue(app, client, staff, registry):
    with app.app_context():
        version = db.session.get(AIModel, registry["aurora-chat"]).versions[0].id
    plain = add_ticket(app)
    special = add_ticket(
        app,
        kind="output_dispute",
        category="privacy",
        reporter_severity="critical",
        locale="fr",
        model_id=registry["aurora-chat"],
        model_version_id=version,
        expected_output="Something else.",
    )
    sign_in(client)

    for name, value in {
        "kind": "output_dispute",
        "category": "privacy",
        "severity": "critical",
        "language": "fr",
        "model": registry["aurora-chat"],
        "version": version,
    }.items():
        page = queue(client, **{name: value})
        assert listed(page) == [special], name
        assert "1 filter applied" in page
    assert set(listed(queue(client))) == {plain, special}


def test_the_severity_filter_follows_the_severity_staff_set(app, client, staff):
    reference = add_ticket(app, reporter_severity="low")
    with app.app_context():
        ticket_by_reference(reference).severity = Severity.HIGH
        db.session.commit()
    sign_in(client)

    assert listed(queue(client, severity="high")) == [reference]
    assert listed(queue(client, severity="low")) == []


def test_me_unassigned_and_a_colleague(app, client, staff):
    mine = add_ticket(app, assignee=staff[AGENT])
    theirs = add_ticket(app, assignee=staff[COLLEAGUE])
    nobodys = add_ticket(app)
    sign_in(client)

    assert listed(queue(client, assignee="me")) == [mine]
    assert listed(queue(client, assignee="unassigned")) == [nobodys]
    assert listed(queue(client, assignee=staff[COLLEAGUE])) == [theirs]
    outsider = queue(client, assignee=staff[OUTSIDER])
    assert "Choose an option from the list" in outsider
    assert listed(outsider) == []


def test_a_reference_finds_its_report_however_it_is_typed(app, client, staff):
    reference = add_ticket(app, status=Status.CLOSED)
    add_ticket(app)
    sign_in(client)

    for typed in (reference, reference.lower(), reference.replace("-", ""), f" {reference} "):
        page = queue(client, q=typed)
        assert listed(page) == [reference], typed
        assert "whatever the other filters say" in page


def test_words_are_found_in_the_description_and_the_output(app, client, staff):
    in_description = add_ticket(app, description="It called me a LLAMA herder.")
    in_output = add_ticket(app, output_text="llamas are dangerous, said the output")
    add_ticket(app, description="Nothing to see.", output_text="Nothing either.")
    add_ticket(app, description="100% wrong")
    sign_in(client)

    assert set(listed(queue(client, q="llama"))) == {in_description, in_output}
    assert listed(queue(client, q="%")) != [], "a percent sign is looked for as itself"
    assert len(listed(queue(client, q="%"))) == 1


# -- order and pages ----------------------------------------------------------------------------


def test_the_queue_is_next_due_first_and_those_waiting_for_the_reporter_come_last(
    app, client, staff
):
    now, day = utcnow(), timedelta(days=1)
    later = with_deadlines(app, add_ticket(app), due=now + 3 * day)
    waiting = with_deadlines(app, add_ticket(app), due=None, paused=True)
    sooner = with_deadlines(app, add_ticket(app), due=now + day)
    breached = with_deadlines(app, add_ticket(app), due=now - day)
    sign_in(client)

    page = queue(client)

    assert listed(page) == [breached, sooner, later, waiting]
    assert "Reports, next due first, then those waiting for the reporter" in page
    assert re.search(r'<th scope="col" aria-sort="ascending">\s*Next due', page)
    assert page.count("aria-sort") == 1
    assert '<option value="due" selected>Next due first</option>' in page
    assert "Waiting for the reporter" in next_due_cells(page)[waiting]
    assert 'href="/staff/queue?sort=due"' in queue(client, sort="newest")


def test_the_queue_can_be_newest_oldest_or_most_severe_first(app, client, staff):
    start = datetime(2026, 11, 1, 9, tzinfo=UTC)
    old_critical = add_ticket(app, reporter_severity="critical", created_at=start)
    middle_low = add_ticket(app, reporter_severity="low", created_at=start + timedelta(hours=1))
    new_medium = add_ticket(app, reporter_severity="medium", created_at=start + timedelta(hours=2))
    sign_in(client)

    newest = queue(client, sort="newest")
    oldest = queue(client, sort="oldest")
    severe = queue(client, sort="severity")

    assert listed(newest) == [new_medium, middle_low, old_critical]
    assert listed(oldest) == [old_critical, middle_low, new_medium]
    assert listed(severe) == [old_critical, new_medium, middle_low]
    assert re.search(r'<th scope="col" aria-sort="descending">\s*<a[^>]*>Received', newest)
    assert re.search(r'<th scope="col" aria-sort="ascending">\s*<a[^>]*>Received', oldest)
    assert re.search(r'<th scope="col" aria-sort="descending">\s*How serious', severe)
    assert newest.count("aria-sort") == 1
    assert "<caption" in newest
    assert "Reports, newest first" in newest


def paging_deadlines(number: int, start: datetime) -> dict:
    """Deadlines for the paging test's report ``number``: the first 70 run, soonest for the
    highest numbers and three at a time; 35 await the reporter; the last 15 have none (as
    before ``flask sla recompute``)."""
    if number < 70:
        return {"next_due_at": start + timedelta(days=30, hours=(69 - number) // 3)}
    if number < 105:
        return {"status": Status.AWAITING_REPORTER, "sla_paused_at": start}
    return {}


def due_order(ticket: Ticket) -> tuple:
    """Next due first, as the product defines it: running deadlines soonest first (the id
    breaks ties), then the reports with none, status by status, each oldest first."""
    if ticket.next_due_at is not None:
        return (0, ticket.next_due_at, ticket.id)
    return (1, NOTHING_DUE_STATUSES.index(ticket.status), ticket.created_at, ticket.id)


@pytest.mark.parametrize("sort", ["due", "newest", "oldest", "severity"])
def test_pages_walk_every_report_exactly_once(app, client, staff, sort):
    team_id = staff["teams"]["trust-safety"]
    start = datetime(2026, 6, 1, tzinfo=UTC)
    severities = list(Severity)
    with app.app_context():
        rows = [
            # Three reports share each timestamp: the id breaks the tie.
            ticket_row(
                team_id,
                start + timedelta(minutes=number // 3),
                reporter_severity=severities[number % 4],
                priority=SEVERITY_PRIORITY[severities[number % 4]],
                **paging_deadlines(number, start),
            )
            for number in range(120)
        ]
        db.session.execute(sa.insert(Ticket), rows)
        db.session.commit()
        expected = {row["reference"] for row in rows}
    sign_in(client)

    # Next due first is the queue's default: its first page has no "sort" in its address.
    seen, pages, url = [], [], "/staff/queue" if sort == "due" else f"/staff/queue?sort={sort}"
    while url:
        response = client.get(url)
        page = html.unescape(response.get_data(as_text=True))
        pages.append(page)
        seen += listed(page)
        match = NEXT_PAGE.search(page)
        url = match.group(1) if match else None

    assert [len(listed(page)) for page in pages] == [50, 50, 20]
    assert len(seen) == len(set(seen)) == 120
    assert set(seen) == expected
    assert "Showing 50 of 120 reports" in pages[0]
    assert "First page" in pages[1]
    with app.app_context():
        if sort == "due":
            # Decided here, not by the database: the pages are the same on every database.
            tickets = sorted(db.session.scalars(sa.select(Ticket)), key=due_order)
            assert seen == [ticket.reference for ticket in tickets]
            return
        order = {
            "newest": [Ticket.created_at.desc(), Ticket.id.desc()],
            "oldest": [Ticket.created_at, Ticket.id],
            "severity": [Ticket.priority.desc(), Ticket.created_at.desc(), Ticket.id.desc()],
        }[sort]
        assert seen == list(db.session.scalars(sa.select(Ticket.reference).order_by(*order)))


def test_page_links_keep_the_filters_and_nothing_else(app, client, staff):
    team_id = staff["teams"]["trust-safety"]
    with app.app_context():
        start = datetime(2026, 6, 1, tzinfo=UTC)
        db.session.execute(
            sa.insert(Ticket),
            [ticket_row(team_id, start + timedelta(minutes=n), locale="fr") for n in range(51)],
        )
        db.session.commit()
    sign_in(client)

    page = queue(client, language="fr", sort="oldest", evil="https://attacker.example")
    query = parse_qs(urlsplit(NEXT_PAGE.search(page).group(1)).query)

    assert set(query) == {"language", "sort", "after"}
    assert query["language"] == ["fr"]


def test_a_large_view_is_counted_only_up_to_the_cap(app, client, staff):
    team_id = staff["teams"]["trust-safety"]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with app.app_context():
        db.session.execute(
            sa.insert(Ticket),
            [ticket_row(team_id, start + timedelta(minutes=n)) for n in range(COUNT_CAP + 5)],
        )
        db.session.commit()
    sign_in(client)

    assert "Showing 50 of more than 1,000 reports" in queue(client)


@pytest.mark.parametrize(
    "args",
    [
        {"after": "not-a-cursor"},
        {"sort": "newest", "after": "bjo5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk6MQ"},
        {"after": "%%%"},
        {"sort": "severity", "after": "bjoxOjE"},
        {"sort": "newest", "after": "bjoxOjk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5"},  # id beyond 64 bits
        {"sort": "severity", "after": "czo5OjE6MQ"},  # no severity 9
        {"sort": "severity", "after": "czoyOjE6OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk"},
        {"after": "bjoxOjE"},  # a newest-first link, in the next-due view
        {"sort": "newest", "after": "ZDoxOjE"},  # a next-due link, in the newest-first view
        {"after": "ZDoxOjk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5"},  # an id beyond 64 bits
        {"after": "dzo5OToxOjE"},  # no status 99
        {"after": "dzozOjE"},  # a part missing
    ],
)
def test_an_unreadable_page_link_shows_the_first_page_with_a_message(app, client, staff, args):
    reference = add_ticket(app)
    sign_in(client)

    page = queue(client, **args)

    assert "That page link could not be read" in page
    assert listed(page) == [reference]


@pytest.mark.parametrize(
    "args",
    [
        {"status": "sleeping"},
        {"kind": "rumour"},
        {"team": "abc"},
        {"assignee": "-1"},
        {"model": "999999"},
        {"severity": "extreme\x00"},
        {"sort": "random"},
        {"sla": "late"},
        {"q": "x" * 201},
    ],
)
def test_an_unreadable_filter_gives_a_message_not_an_error_page(app, client, staff, args):
    add_ticket(app)
    sign_in(client)

    page = queue(client, **args)

    assert "There is a problem" in page
    assert listed(page) == []


def test_an_empty_view_says_so(app, client, staff):
    sign_in(client)

    page = queue(client, kind="output_dispute")

    assert "No reports match these filters." in page
    assert "Clear filters" in page


# -- bulk actions -------------------------------------------------------------------------------


def test_bulk_assignment_records_who_did_it_in_the_history_and_the_audit_log(app, client, staff):
    first, second = add_ticket(app), add_ticket(app)
    sign_in(client)
    page = queue(client)

    response = bulk(client, page, [first, second], f"assign:{staff[COLLEAGUE]}")

    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/queue"
    with app.app_context():
        for reference in (first, second):
            ticket = ticket_by_reference(reference)
            assert ticket.assignee_id == staff[COLLEAGUE]
            event = db.session.scalar(
                sa.select(TicketEvent).where(
                    TicketEvent.ticket_id == ticket.id, TicketEvent.kind == EventKind.ASSIGNED
                )
            )
            assert event.staff_id == staff[AGENT]
            entry = db.session.scalar(
                sa.select(AuditEntry).where(
                    AuditEntry.object_id == reference, AuditEntry.action == "ticket.assigned"
                )
            )
            assert entry.actor_id == f"staff:{staff[AGENT]}"
    assert "2 reports changed." in queue(client)


def test_an_analyst_in_the_team_is_never_offered_as_an_assignee(app, client, staff):
    make_staff(
        app,
        "analyst@example.org",
        roles=(Role.ANALYST,),
        name="Ana Lyst",
        team_slugs=("trust-safety",),
    )
    add_ticket(app)
    sign_in(client)

    page = queue(client)

    assert "Cole League" in page
    assert "Ana Lyst" not in page


def test_bulk_assignment_to_me_and_back_to_the_team(app, client, staff):
    reference = add_ticket(app)
    sign_in(client)

    bulk(client, queue(client), [reference], "assign:me")
    assert listed(queue(client, assignee="me")) == [reference]
    bulk(client, queue(client), [reference], "assign:unassigned")
    assert listed(queue(client, assignee="unassigned")) == [reference]


def test_a_bulk_status_change_names_the_reports_it_could_not_move(app, client, staff):
    movable = add_ticket(app, status=Status.TRIAGED)
    stuck = add_ticket(app, status=Status.AWAITING_REPORTER)
    sign_in(client)

    bulk(client, queue(client), [movable, stuck], "status:investigating")
    page = queue(client)

    with app.app_context():
        assert ticket_by_reference(movable).status is Status.INVESTIGATING
        assert ticket_by_reference(stuck).status is Status.INVESTIGATING
    assert "2 reports changed." in page

    bulk(client, queue(client), [movable], "status:triaged")
    page = queue(client)
    assert f"its status cannot move to the one chosen: {movable}" in page
    with app.app_context():
        assert ticket_by_reference(movable).status is Status.INVESTIGATING


def test_bulk_status_changes_offer_no_move_that_needs_its_own_action(app, client, staff):
    reference = add_ticket(app)
    sign_in(client)
    page = queue(client)

    assert 'value="status:triaged"' in page
    for status in ("decided", "closed", "merged", "withdrawn", "appealed", "awaiting_reporter"):
        assert f'value="status:{status}"' not in page
        response = bulk(client, page, [reference], f"status:{status}")
        assert response.status_code == 303
    with app.app_context():
        assert ticket_by_reference(reference).status is Status.NEW


def test_spam_is_closed_without_a_reply_and_leaves_the_queue(app, client, staff):
    spam = add_ticket(app, contact_email="spammer@example.org", consent_contact=True)
    kept = add_ticket(app)
    with app.app_context():
        outbox_before = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
    sign_in(client)

    bulk(client, queue(client), [spam], "spam")

    assert listed(queue(client)) == [kept]
    with app.app_context():
        ticket = ticket_by_reference(spam)
        assert ticket.is_spam
        assert ticket.status is Status.CLOSED
        outbox_after = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
        assert outbox_after == outbox_before
        actions = set(
            db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_id == spam))
        )
        assert {"ticket.marked_spam", "ticket.status_changed"} <= actions
    assert "Closed as spam" in queue(client, status="closed")


def test_a_bulk_action_never_reaches_another_teams_report(app, client, staff):
    ours = add_ticket(app)
    theirs = add_ticket(app, "second-line")
    sign_in(client)
    page = queue(client)
    with app.app_context():
        ticket = ticket_by_reference(theirs)
        forged = f"{ticket.id}:{ticket.row_version}"

    response = client.post(
        "/staff/queue/bulk",
        data={
            "csrf_token": hidden_value(page, CSRF_PATTERN),
            "tickets": [*selection(page, [ours]), forged],
            "action": "spam",
        },
    )

    assert response.status_code == 303
    with app.app_context():
        ticket = ticket_by_reference(theirs)
        assert not ticket.is_spam
        assert ticket.status is Status.NEW
        assert ticket_by_reference(ours).is_spam
    page = queue(client)
    assert "1 selected report was not found" in page
    assert theirs not in page


def test_assigning_someone_outside_the_reports_team_is_refused_by_name(app, client, staff):
    ours = add_ticket(app)
    theirs = add_ticket(app, "second-line")
    sign_in(client, email=ADMIN)
    page = queue(client)

    bulk(client, page, [ours, theirs], f"assign:{staff[OUTSIDER]}")

    result = queue(client)
    assert f"not a member of the report's team: {ours}" in result
    assert "1 report changed." in result
    with app.app_context():
        assert ticket_by_reference(ours).assignee_id is None
        assert ticket_by_reference(theirs).assignee_id == staff[OUTSIDER]


def test_a_report_changed_since_the_page_was_shown_is_left_alone(app, client, staff):
    reference, other = add_ticket(app), add_ticket(app)
    sign_in(client)
    page = queue(client)
    with app.app_context():
        ticket = ticket_by_reference(reference)
        ticket.assignee_id = staff[COLLEAGUE]  # a colleague took it meanwhile
        db.session.commit()

    bulk(client, page, [reference, other], "assign:me")

    result = queue(client)
    assert f"someone else changed it after this page was shown: {reference}" in result
    with app.app_context():
        assert ticket_by_reference(reference).assignee_id == staff[COLLEAGUE]
        assert ticket_by_reference(other).assignee_id == staff[AGENT]


def test_a_bulk_action_needs_a_selection_and_an_action(app, client, staff):
    reference = add_ticket(app)
    sign_in(client)
    page = queue(client)
    token = hidden_value(page, CSRF_PATTERN)

    nothing = client.post("/staff/queue/bulk", data={"csrf_token": token, "action": "spam"})
    no_action = client.post(
        "/staff/queue/bulk",
        data={"csrf_token": token, "tickets": selection(page, [reference]), "action": ""},
    )
    too_many = client.post(
        "/staff/queue/bulk",
        data={
            "csrf_token": token,
            "tickets": [f"{n}:1" for n in range(1, 102)],
            "action": "spam",
        },
    )
    forged_value = client.post(
        "/staff/queue/bulk",
        data={"csrf_token": token, "tickets": ["1 OR 1=1"], "action": "spam"},
    )

    assert {nothing.status_code, no_action.status_code, too_many.status_code} == {303}
    assert forged_value.status_code == 303
    result = queue(client)
    assert "Select at least one report" in result
    assert "Choose what to do with the selected reports" in result
    assert "Select 100 reports or fewer at a time" in result
    assert "Select reports from the list" in result
    with app.app_context():
        assert not ticket_by_reference(reference).is_spam


def test_a_bulk_action_returns_to_the_same_view_and_never_elsewhere(app, client, staff):
    reference = add_ticket(app)
    sign_in(client)
    page = queue(client, kind="harm_report", sort="oldest")

    kept = bulk(client, page, [reference], "assign:me")
    elsewhere = bulk(client, page, [reference], "assign:me", next_page="https://evil.example/")
    other_page = bulk(client, page, [reference], "assign:me", next_page="/auth/sign-out")

    assert kept.headers["Location"] == "/staff/queue?kind=harm_report&sort=oldest"
    assert elsewhere.headers["Location"] == "/staff/queue"
    assert other_page.headers["Location"] == "/staff/queue"


def test_a_bulk_action_without_its_csrf_token_is_refused(app, client, staff):
    reference = add_ticket(app)
    sign_in(client)
    page = queue(client)

    response = client.post(
        "/staff/queue/bulk", data={"tickets": selection(page, [reference]), "action": "spam"}
    )

    assert response.status_code == 400
    with app.app_context():
        assert not ticket_by_reference(reference).is_spam


# -- the page itself ----------------------------------------------------------------------------


def test_the_table_is_labelled_for_screen_readers_and_works_without_scripts(app, client, staff):
    reference = add_ticket(app)
    sign_in(client)

    page = queue(client)

    assert f"Select {reference}" in page
    assert '<th scope="row">' in page
    assert page.count('<th scope="col"') == 10
    assert 'method="get" action="/staff/queue"' in page
    assert "Apply filters" in page
    assert "style=" not in page
    assert "<script>" not in page
    assert page.index("Apply filters") < page.index("<table")


def test_each_row_says_when_its_next_deadline_is_and_flags_one_that_has_passed(app, client, staff):
    # Submitted two hours ago as critical: its first response (one hour) is past.
    breached = add_ticket(app, reporter_severity="critical", now=utcnow() - timedelta(hours=2))
    on_time = add_ticket(app, reporter_severity="critical")
    sign_in(client)

    page = queue(client)
    cells = next_due_cells(page)

    assert '<strong class="tag tag--breached">Breached</strong>' in cells[breached]
    assert "tag" not in cells[on_time]
    assert "Overdue" not in page, "the product's word is Breached"


def test_each_service_level_shows_exactly_its_reports_and_tags_them(app, client, staff):
    # The view judges at the moment of the request: a day either side is far enough.
    now, day = utcnow(), timedelta(days=1)
    breached = with_deadlines(app, add_ticket(app), due=now - day, at_risk=now - 2 * day)
    at_risk = with_deadlines(app, add_ticket(app), due=now + day, at_risk=now - day)
    on_time = with_deadlines(app, add_ticket(app), due=now + 2 * day, at_risk=now + day)
    # Not recomputed since warning times exist: on time until its deadline.
    unwarned = with_deadlines(app, add_ticket(app), due=now + 3 * day)
    waiting = with_deadlines(app, add_ticket(app), due=None, paused=True)
    closed = with_deadlines(app, add_ticket(app, status=Status.CLOSED), due=None)
    theirs = with_deadlines(app, add_ticket(app, "second-line"), due=now - day)
    sign_in(client)

    everything = queue(client, status="any")
    cells = next_due_cells(everything)

    assert listed(queue(client, sla="breached")) == [breached]
    assert listed(queue(client, sla="at_risk")) == [at_risk]
    assert listed(queue(client, sla="on_time")) == [on_time, unwarned]
    assert listed(queue(client, sla="on_time", status="any", sort="newest")) == [
        unwarned,
        on_time,
    ], "with the other filters and orders; a report whose clocks stand still is in none"
    assert "1 filter applied" in queue(client, sla="at_risk")
    assert listed(everything) == [breached, at_risk, on_time, unwarned, waiting, closed]
    assert theirs not in everything
    assert '<strong class="tag tag--breached">Breached</strong>' in cells[breached]
    assert '<strong class="tag tag--at_risk">At risk</strong>' in cells[at_risk]
    for quiet in (on_time, unwarned, waiting, closed):
        assert "tag" not in cells[quiet], quiet
    assert "Waiting for the reporter" in cells[waiting]
    assert "Nothing due" in cells[closed]


def test_a_service_level_is_judged_at_the_moment_given(app, staff):
    moment, hour = datetime(2030, 1, 7, 12, tzinfo=UTC), timedelta(hours=1)
    due_now = with_deadlines(app, add_ticket(app), due=moment, at_risk=moment - hour)
    warned_now = with_deadlines(app, add_ticket(app), due=moment + hour, at_risk=moment)
    not_yet = with_deadlines(
        app, add_ticket(app), due=moment + 2 * hour, at_risk=moment + timedelta(microseconds=1)
    )

    def shown(state: SlaState, at: datetime) -> list[tuple[str, SlaState]]:
        """The references in the view of ``state`` at ``at``, each with its row's state."""
        page = load_page(
            QueueFilters(sla_state=state), sort=QueueSort.DUE, visible_team_ids=None, now=at
        )
        return [(ticket.reference, page.sla_states[ticket.id]) for ticket in page.tickets]

    with app.app_context():
        # A deadline is breached from its very moment, a warning point at risk from its own.
        assert shown(SlaState.BREACHED, moment) == [(due_now, SlaState.BREACHED)]
        assert shown(SlaState.AT_RISK, moment) == [(warned_now, SlaState.AT_RISK)]
        assert shown(SlaState.ON_TIME, moment) == [(not_yet, SlaState.ON_TIME)]
        assert [reference for reference, _ in shown(SlaState.ON_TIME, moment - 2 * hour)] == [
            due_now,
            warned_now,
            not_yet,
        ]
        assert shown(SlaState.BREACHED, moment + 2 * hour) == [
            (due_now, SlaState.BREACHED),
            (warned_now, SlaState.BREACHED),
            (not_yet, SlaState.BREACHED),
        ]


def test_the_queue_renders_in_every_language(app, client, staff):
    add_ticket(app, assignee=staff[AGENT])
    sign_in(client)

    for code in ("fr", "ar"):
        client.set_cookie("portal_locale", code, domain="redress.test")
        response = client.get("/staff/queue?status=any&sort=severity")
        assert response.status_code == 200
        assert f'lang="{code}"' in response.get_data(as_text=True)


def test_the_staff_member_list_is_their_teams_members(app, client, staff):
    sign_in(client)

    page = queue(client)

    assert "Cole League" in page
    assert "Otto Sider" not in page
    with app.app_context():
        db.session.get(StaffUser, staff[COLLEAGUE]).is_active = False
        db.session.commit()
    assert "Cole League" not in queue(client)


def test_a_bulk_action_is_one_transaction_that_the_caller_commits(app, staff):
    first, refused, second = add_ticket(app), add_ticket(app, status=Status.CLOSED), add_ticket(app)
    with app.app_context():
        agent = db.session.get(StaffUser, staff[AGENT])
        tickets = [ticket_by_reference(reference) for reference in (first, refused, second)]
        selection = {ticket.id: ticket.row_version for ticket in tickets}
        db.session.commit()  # the request starts with nothing written, as a view does

        outcome = apply_bulk_action(
            selection,
            BulkAction(BulkKind.ASSIGN, assignee=agent),
            staff=agent,
            now=utcnow(),
            visible_team_ids={staff["teams"]["trust-safety"]},
        )
        # Each report's savepoint was released; nothing is kept until the caller commits.
        db.session.rollback()

        assert outcome.changed == [first, second]
        assert outcome.refused == {"not_open": [refused]}
        assert {ticket_by_reference(r).assignee_id for r in (first, refused, second)} == {None}
        assert not db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "ticket.assigned")
        )


def test_a_colleagues_save_during_the_bulk_action_is_never_overwritten(
    app, client, staff, is_postgres, monkeypatch
):
    """A colleague saves a report while the bulk action is between reading and writing it.

    PostgreSQL lets the colleague's save land; the bulk action then finds the report changed and
    leaves it alone. SQLite has taken its write lock before reading, so the colleague's save
    waits (here: is refused at once) and the bulk action's change stands. Either way, no one's
    change is silently lost."""
    raced, other = add_ticket(app), add_ticket(app)
    sign_in(client)
    page = queue(client)
    original = queue_service._apply
    colleague_saved = []

    def colleague_saves_first(ticket, *args, **kwargs):
        if ticket.reference == raced:
            with db.engine.connect() as connection:
                # Outside SQLAlchemy's transaction: refuse at once rather than wait for the lock.
                driver = connection.connection.dbapi_connection
                if not is_postgres:
                    driver.execute("PRAGMA busy_timeout = 0")
                try:
                    with connection.begin():
                        connection.execute(
                            sa.update(Ticket)
                            .where(Ticket.id == ticket.id)
                            .values(
                                assignee_id=staff[COLLEAGUE], row_version=Ticket.row_version + 1
                            )
                        )
                    colleague_saved.append(True)
                except sa.exc.OperationalError:
                    colleague_saved.append(False)
                finally:
                    if not is_postgres:
                        driver.execute("PRAGMA busy_timeout = 5000")
        return original(ticket, *args, **kwargs)

    monkeypatch.setattr(queue_service, "_apply", colleague_saves_first)
    bulk(client, page, [raced, other], "assign:me")

    assert colleague_saved == [is_postgres]
    with app.app_context():
        raced_assignee = ticket_by_reference(raced).assignee_id
        assert ticket_by_reference(other).assignee_id == staff[AGENT]
    if is_postgres:
        assert f"someone else changed it after this page was shown: {raced}" in queue(client)
        assert raced_assignee == staff[COLLEAGUE]
    else:
        assert raced_assignee == staff[AGENT]
