"""The reporter's moves, shared by the HTTP tests: read a form page, fill it in, send it."""

import io
from html.parser import HTMLParser
from pathlib import Path

import sqlalchemy as sa

from portal.extensions import db
from portal.models import TicketKind

HARM = TicketKind.HARM_REPORT.value
DISPUTE = TicketKind.OUTPUT_DISPUTE.value


class PageReader(HTMLParser):
    """A page as a browser sees it: where its form posts and the values it would send back, the
    label of each choice, the ids on the page and the links in its error summary."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.action: str | None = None
        self.hidden: dict[str, str] = {}
        self.values: dict[str, str] = {}
        self.selected_labels: dict[str, str] = {}
        self.choices: dict[str, list[tuple[str, str]]] = {}  # name: [(value, id)]
        self.labels: dict[str, str] = {}  # id: text of its label
        self.ids: list[str] = []
        self.summary_links: list[str] = []
        self._select: str | None = None
        self._in_summary = False
        self._capture: tuple[str, dict, str] | None = None  # (end tag, where to store, key)
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.append(attributes["id"])
        name = attributes.get("name")
        input_type = attributes.get("type", "text")
        if tag == "form" and attributes.get("method") == "post":
            self.action = attributes["action"]
        elif tag == "input" and name and input_type in ("radio", "checkbox"):
            value = attributes.get("value", "on")
            self.choices.setdefault(name, []).append((value, attributes.get("id")))
            if "checked" in attributes:
                self.values[name] = value
        elif tag == "input" and name and input_type != "file":
            self.values[name] = attributes.get("value") or ""
            if input_type == "hidden":
                self.hidden[name] = self.values[name]
        elif tag == "textarea":
            self._capture, self._text = ("textarea", self.values, name), []
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and "selected" in attributes:
            self.values[self._select] = attributes.get("value", "")
            self._capture, self._text = ("option", self.selected_labels, self._select), []
        elif tag == "label" and "for" in attributes:
            self._capture, self._text = ("label", self.labels, attributes["for"]), []
        elif tag == "div" and "error-summary" in (attributes.get("class") or "").split():
            self._in_summary = True
        elif tag == "a" and self._in_summary:
            self.summary_links.append(attributes["href"])

    def handle_data(self, data):
        if self._capture:
            self._text.append(data)

    def handle_endtag(self, tag):
        if self._capture and tag == self._capture[0]:
            _tag, store, key = self._capture
            text = "".join(self._text)
            # A browser drops the newline that opens a textarea's content.
            store[key] = (
                text.removeprefix("\r\n").removeprefix("\n") if tag == "textarea" else text.strip()
            )
            self._capture = None
        elif tag == "select":
            self._select = None
        elif tag == "div":
            self._in_summary = False

    def offered(self, name: str) -> dict[str, str]:
        """The choices of a radio or checkbox question: {label: value}."""
        return {self.labels.get(id_, ""): value for value, id_ in self.choices.get(name, [])}


def read_page(page: str) -> PageReader:
    reader = PageReader()
    reader.feed(page)
    reader.close()
    return reader


def complete_answers(registry, kind: str = HARM, **changes) -> dict:
    """Every required answer for ``kind``; a change to None leaves that answer out."""
    answers = {
        "reporter_role": "self",
        "model_choice": f"model:{registry['aurora-chat']}",
        "output_text": "Mix bleach and ammonia to get the bathroom really clean.",
        "description": "Mixing them makes a toxic gas. My flatmate tried it and felt ill.",
        "category": "dangerous_instructions",
        "reporter_severity": "high",
        "immediate_danger": "no",
        "timezone": "Europe/London",
    }
    if kind == DISPUTE:
        answers["expected_output"] = "Never mix bleach with ammonia: it releases chloramine gas."
    answers.update(changes)
    return {name: value for name, value in answers.items() if value is not None}


def open_form(client, kind: str = HARM, headers=None, **link) -> str:
    response = client.get("/reports/new", query_string={"kind": kind, **link}, headers=headers)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def send(client, page: str, answers: dict, files=(), headers=None):
    """Post ``answers`` with the hidden fields of the form on ``page`` (token, form key) to its
    action, and ``files`` as (name, content) pairs. An answer of None leaves that field out."""
    form = read_page(page)
    data = {**form.hidden, **answers}
    data = {name: value for name, value in data.items() if value is not None}
    if files:
        data["evidence"] = [(io.BytesIO(content), name) for name, content in files]
    response = client.post(
        form.action, data=data, content_type="multipart/form-data", headers=headers
    )
    # The test client spools a large post to a temporary file and only closes it itself when it
    # follows redirects.
    response.request.input_stream.close()
    return response


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def files_on_disk(app) -> list[str]:
    folder = Path(app.config["PORTAL_UPLOAD_DIR"])
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []
