"""Limits a reporter or an operator meets: rate limits (per client, shared through Redis), the
size of an image, how far ahead a date may be, and what a link may pass on to the form."""

import html
import io
import socket
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import redis
import sqlalchemy as sa
from PIL import Image

from portal import create_app
from portal.extensions import db
from portal.models import Attachment, Ticket
from portal.services.attachments import store_evidence
from portal.services.errors import AttachmentRejected
from tests.conftest import base_config, skip_or_fail
from tests.reporting import complete_answers, count, files_on_disk, open_form, read_page, send

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
FRENCH = {"Accept-Language": "fr"}


@pytest.fixture
def limited(rate_limits):
    """Low rate limits for ``app``: request it before ``app`` (or ``client``) is built."""
    rate_limits(PORTAL_RATELIMIT_SUBMIT="2 per minute", PORTAL_RATELIMIT_TRACK="2 per minute")


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# -- rate limits --------------------------------------------------------------------------------


def test_correcting_a_form_is_never_stopped_by_the_rate_limit(limited, app, client, registry):
    incomplete = complete_answers(registry, description=None, impact="I could not sleep.")
    page = open_form(client)

    for _attempt in range(5):
        response = send(client, page, incomplete)
        page = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "Describe what went wrong" in page
        assert read_page(page).values["impact"] == "I could not sleep."

    corrected = send(client, page, complete_answers(registry))

    assert corrected.status_code == 303
    assert count(app, Ticket) == 1


def test_a_form_with_errors_that_stores_files_counts_towards_the_limit(
    limited, app, client, registry
):
    incomplete = complete_answers(registry, description=None)
    note = [("note.txt", b"what the chatbot said")]

    responses = [send(client, open_form(client), incomplete, files=note) for _attempt in range(3)]

    # Each stored a file in a draft: disk is spent, so the third is refused (limit: 2/minute).
    assert [response.status_code for response in responses] == [200, 200, 429]
    assert len(files_on_disk(app)) == 2


def test_a_third_report_within_a_minute_is_stopped_with_a_readable_page(
    limited, app, client, registry
):
    answers = complete_answers(registry)

    sent = [send(client, open_form(client), answers, headers=FRENCH) for _report in range(3)]

    assert [response.status_code for response in sent] == [303, 303, 429]
    page = page_text(sent[2])
    assert "Trop de tentatives" in page
    assert "Too many" not in page
    assert count(app, Ticket) == 2


@pytest.mark.parametrize(
    ("proxy_hops", "second_client_allowed"), [(1, True), (0, False)], ids=["behind-proxy", "direct"]
)
def test_each_forwarded_client_has_its_own_allowance_only_behind_a_trusted_proxy(
    limited, app_config, request, proxy_hops, second_client_allowed
):
    app_config["PORTAL_PROXY_HOPS"] = proxy_hops
    client = request.getfixturevalue("client")

    def guess(number: int, forwarded_for: str) -> int:
        headers = {"X-Forwarded-For": forwarded_for}
        return client.get(f"/reports/track/guess-{number}", headers=headers).status_code

    first_client = [guess(number, "198.51.100.7") for number in range(3)]
    second_client = guess(3, "198.51.100.8")

    assert first_client == [404, 404, 429]
    assert second_client == (404 if second_client_allowed else 429)


def test_a_client_behind_the_proxy_cannot_escape_its_limit_by_adding_forwarded_addresses(
    limited, app_config, request
):
    app_config["PORTAL_PROXY_HOPS"] = 1
    client = request.getfixturevalue("client")

    # The proxy appends the address it saw; what the client wrote in front is not believed.
    answers = [
        client.get(
            f"/reports/track/guess-{number}",
            headers={"X-Forwarded-For": f"203.0.113.{number}, 198.51.100.7"},
        ).status_code
        for number in range(3)
    ]

    assert answers == [404, 404, 429]


@pytest.fixture
def redis_key_prefix():
    """A key prefix of this test's own in the local Redis; its keys are deleted afterwards."""
    try:
        socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=1).close()
    except OSError as error:
        skip_or_fail(f"Redis at {REDIS_HOST}:{REDIS_PORT} is not reachable: {error}")
    prefix = f"redress-test-{uuid.uuid4().hex}"
    yield prefix
    with redis.Redis(host=REDIS_HOST, port=REDIS_PORT) as connection:
        keys = list(connection.scan_iter(match=f"*{prefix}*"))
        if keys:
            connection.delete(*keys)


def limit_keys(prefix: str) -> list[bytes]:
    with redis.Redis(host=REDIS_HOST, port=REDIS_PORT) as connection:
        return list(connection.scan_iter(match=f"*{prefix}*"))


def test_a_limit_kept_in_redis_holds_for_every_instance_of_the_portal(
    database_url, tmp_path, redis_key_prefix
):
    config = {
        **base_config(database_url, tmp_path),
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": f"redis://{REDIS_HOST}:{REDIS_PORT}",
        "RATELIMIT_KEY_PREFIX": redis_key_prefix,
        "PORTAL_RATELIMIT_TRACK": "2 per minute",
    }
    first = create_app(config)
    try:
        through_first = [
            first.test_client().get(f"/reports/track/guess-{number}").status_code
            for number in range(2)
        ]
        # Built only now, as another worker process would be: with a store of its own (such as
        # "memory://") it would start counting from zero.
        second = create_app(config)
        try:
            through_second = second.test_client().get("/reports/track/guess-2").status_code
        finally:
            with second.app_context():
                db.engine.dispose()
    finally:
        with first.app_context():
            db.engine.dispose()

    assert through_first == [404, 404]
    assert through_second == 429
    assert limit_keys(redis_key_prefix)


# -- image size ---------------------------------------------------------------------------------


def blank_png(width: int, height: int, mode: str) -> bytes:
    """A real PNG of ``width`` x ``height`` pixels; one colour, so it compresses to kilobytes."""
    buffer = io.BytesIO()
    Image.new(mode, (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("width", "height", "mode"),
    [(8000, 6000, "1"), (8001, 5000, "1")],
    ids=["48-megapixels", "just-over-40-megapixels"],
)
def test_an_image_over_forty_megapixels_is_refused_and_nothing_is_written(
    tmp_path, width, height, mode
):
    data = blank_png(width, height, mode)
    assert len(data) < 10 * 1024 * 1024

    with pytest.raises(AttachmentRejected) as refused:
        store_evidence(io.BytesIO(data), "huge.png", tmp_path)

    assert refused.value.reason == AttachmentRejected.UNREADABLE
    assert refused.value.filename == "huge.png"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("width", "height", "mode"),
    [(8000, 5000, "1"), (6000, 6000, "L")],
    ids=["exactly-40-megapixels", "36-megapixels"],
)
def test_an_image_up_to_forty_megapixels_is_stored(tmp_path, width, height, mode):
    stored = store_evidence(io.BytesIO(blank_png(width, height, mode)), "photo.png", tmp_path)

    assert stored.content_type == "image/png"
    assert [path.name for path in tmp_path.iterdir()] == [stored.storage_name]
    with Image.open(tmp_path / stored.storage_name) as image:
        assert image.size == (width, height)


def test_a_report_with_a_huge_image_explains_the_refusal_and_stores_nothing(app, client, registry):
    answers = complete_answers(registry)

    response = send(
        client, open_form(client), answers, files=[("huge.png", blank_png(8000, 6000, "1"))]
    )

    assert response.status_code == 200
    page = page_text(response)
    assert "“huge.png” could not be opened as an image. Choose another file." in page
    assert "#evidence" in read_page(page).summary_links
    assert count(app, Ticket) == 0
    assert count(app, Attachment) == 0
    assert files_on_disk(app) == []


# -- the date question --------------------------------------------------------------------------


def test_today_means_the_reporters_today_not_the_servers(app, client, registry):
    now = datetime.now(UTC)
    # UTC+14 and UTC-11 are 25 hours apart: at any hour, Kiritimati's date is later than Pago
    # Pago's, and for most of the day it is already tomorrow in UTC too.
    kiritimati_today = now.astimezone(ZoneInfo("Pacific/Kiritimati")).date()
    pago_pago_today = now.astimezone(ZoneInfo("Pacific/Pago_Pago")).date()
    assert kiritimati_today > pago_pago_today
    page = open_form(client)
    refusals = []
    for zone, day in [
        ("Pacific/Pago_Pago", kiritimati_today),
        ("Pacific/Kiritimati", kiritimati_today + timedelta(days=2)),
    ]:
        answers = complete_answers(registry, timezone=zone, occurred_on=day.isoformat())
        response = send(client, page, answers)
        page = response.get_data(as_text=True)
        refusals.append((response.status_code, read_page(page).summary_links))
        assert "The date must be today or in the past" in page

    answers = complete_answers(
        registry, timezone="Pacific/Kiritimati", occurred_on=kiritimati_today.isoformat()
    )
    accepted = send(client, page, answers)

    assert refusals == [(200, ["#occurred_on"]), (200, ["#occurred_on"])]
    assert accepted.status_code == 303
    with app.app_context():
        ticket = db.session.scalars(sa.select(Ticket)).one()
        assert (ticket.occurred_on, ticket.timezone) == (kiritimati_today, "Pacific/Kiritimati")


# -- what a link may pass on --------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    ["_method=POST&_anchor=x", "_external=1&_scheme=javascript", "utm_source=newsletter"],
)
def test_a_link_to_the_start_page_passes_on_only_the_kind(client, extra):
    response = client.get(f"/reports/?kind=harm_report&{extra}")

    assert response.status_code == 302
    assert response.location == "/reports/new?kind=harm_report"


def test_a_report_this_output_link_passes_on_its_four_details_and_nothing_else(client):
    response = client.get(
        "/reports/?kind=output_dispute&model=aurora-chat&version=3.0&output_id=out-42"
        "&_anchor=x&_method=POST&session=stolen"
    )

    assert response.status_code == 302
    location = urlsplit(response.location)
    assert (location.path, location.fragment) == ("/reports/new", "")
    assert parse_qs(location.query) == {
        "kind": ["output_dispute"],
        "model": ["aurora-chat"],
        "version": ["3.0"],
        "output_id": ["out-42"],
    }


@pytest.mark.parametrize("extra", ["_anchor=x&_method=POST", "_external=1&_scheme=javascript"])
def test_a_form_link_without_a_kind_goes_to_the_start_page_without_the_extras(client, extra):
    response = client.get(f"/reports/new?{extra}")

    assert response.status_code == 302
    assert response.location == "/reports/"


@pytest.mark.parametrize(
    ("link", "notice"),
    [
        ({"model": "aurora\x00chat"}, True),
        ({"model": "aurora-chat", "version": "3.0\x00"}, True),
        ({"output_id": "out\x0042"}, False),
    ],
    ids=["model", "version", "output-id"],
)
def test_a_nul_character_in_a_report_this_output_link_does_not_break_the_form(
    client, registry, link, notice
):
    response = client.get("/reports/new", query_string={"kind": "harm_report", **link})

    page = page_text(response)
    assert response.status_code == 200
    assert "Sorry, there is a problem with the service" not in page
    assert ("We could not find the model or version named in the link" in page) is notice
