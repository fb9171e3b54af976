"""The SLA dashboard for owners (their teams) and administrators (every team).

Read-only: one service call (``portal.services.sla_report``) gives the figures; this module
only lays them out as a chart and puts them into words, in the viewer's language.
"""

from dataclasses import dataclass

from babel.lists import format_list
from flask import Blueprint, render_template
from flask_babel import format_number, format_percent, get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user

from portal.clock import utcnow
from portal.i18n import text_direction
from portal.models import AppealResult, FollowUpAnswer, Outcome, SlaState
from portal.security import never_cache
from portal.services import redress_report, scope, sla_report
from portal.services.redress_report import RedressFigures
from portal.services.sla_report import Compliance, SlaReport, Standing, TeamFigures

bp = Blueprint("dashboard", __name__, url_prefix="/staff")
bp.after_request(never_cache)


@bp.get("/sla")
def sla():
    """Where each of the viewer's teams stands now, and how its last 30 days went: owners see
    the teams they lead, administrators every team and the reports no team owns yet."""
    team_ids, now = scope.managed_team_ids(current_user), utcnow()
    return render_dashboard(
        sla_report.report_for(team_ids, now=now), redress_report.figures_for(team_ids, now=now)
    )


def render_dashboard(report: SlaReport, redress: RedressFigures) -> str:
    """The page of ``report`` and ``redress``, in the viewer's language and text direction."""
    direction = text_direction()
    return render_template(
        "staff/sla_dashboard.html",
        report=report,
        redress=redress,
        Outcome=Outcome,
        AppealResult=AppealResult,
        FollowUpAnswer=FollowUpAnswer,
        chart=bar_chart(report.rows, rtl=direction == "rtl"),
        direction=direction,
        SlaState=SlaState,
        states=list(SlaState),
        queue_states=QUEUE_STATES,
        running_in_words=running_in_words,
        waiting_in_words=waiting_in_words,
        share_in_words=share_in_words,
    )


# The states whose figures lead to the queue, filtered to the team and the state: the ones
# someone has to act on.
QUEUE_STATES = frozenset({SlaState.AT_RISK, SlaState.BREACHED})


# -- the chart: one horizontal bar per team, drawn on the server -------------------------------

# Rows are laid out in pixels, so that the text keeps its size on every screen; the bars are in
# percent of the chart's width, so that they stretch to fit it (a phone's included).
ROW_HEIGHT = 84
LABEL_BASELINE = 18  # the team's name, above its bar
BAR_TOP = 26
BAR_HEIGHT = 22
FIGURES_BASELINE = 68  # the bar's figures in words, below it
# The reports waiting for the reporter, when there are any, on a line of their own (short
# lines fit a phone's width).
WAITING_LINE = 20


@dataclass(frozen=True)
class Segment:
    """The part of a bar for one state, in percent of the chart's width from its left edge."""

    state: SlaState
    x: float
    width: float


@dataclass(frozen=True)
class Bar:
    figures: TeamFigures
    top: int
    segments: list[Segment]
    height: int = BAR_HEIGHT

    @property
    def label_y(self) -> int:
        return self.top + LABEL_BASELINE

    @property
    def bar_y(self) -> int:
        return self.top + BAR_TOP

    @property
    def figures_y(self) -> int:
        return self.top + FIGURES_BASELINE

    @property
    def waiting_y(self) -> int:
        return self.figures_y + WAITING_LINE


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    height: int
    # How many reports a full-width bar stands for (the longest bar's).
    scale: int


def bar_chart(rows: list[TeamFigures], *, rtl: bool) -> Chart:
    """A bar per row of its running reports (on time, at risk, breached, from the inline
    start), all on one scale; mirrored for right-to-left languages."""
    scale = max((row.standing.running for row in rows), default=0)
    bars, top = [], 0
    for row in rows:
        bars.append(Bar(figures=row, top=top, segments=bar_segments(row.standing, scale, rtl=rtl)))
        top += ROW_HEIGHT + (WAITING_LINE if row.standing.awaiting_reporter else 0)
    return Chart(bars=bars, height=top, scale=scale)


def bar_segments(standing: Standing, scale: int, *, rtl: bool) -> list[Segment]:
    """The states side by side, each as wide as its share of ``scale``; a state with no report
    has no segment, and nothing is drawn while no report runs anywhere (``scale`` 0)."""
    segments = []
    before = 0  # reports drawn before this state's, from the inline start
    for state in SlaState:
        count = standing.count(state)
        if not count or not scale:
            continue
        # From the counts, not by adding up widths: the last end is exactly 100 %, so no
        # rounding pushes a bar past the chart's edge, however large the numbers.
        start, end = 100 * before / scale, 100 * (before + count) / scale
        segments.append(Segment(state, 100 - end if rtl else start, end - start))
        before += count
    return segments


# -- the figures in words ---------------------------------------------------------------------


def running_in_words(standing: Standing) -> str:
    """ "3 on time, 1 at risk and 2 breached": the figures under each bar and in the chart's
    description, where colour and pattern cannot reach."""
    if not standing.open:
        return _("No open reports")
    parts = [
        ngettext(
            "%(count)s on time",
            "%(count)s on time",
            standing.on_time,
            count=format_number(standing.on_time),
        ),
        ngettext(
            "%(count)s at risk",
            "%(count)s at risk",
            standing.at_risk,
            count=format_number(standing.at_risk),
        ),
        ngettext(
            "%(count)s breached",
            "%(count)s breached",
            standing.breached,
            count=format_number(standing.breached),
        ),
    ]
    return format_list(parts, locale=get_locale())


def waiting_in_words(standing: Standing) -> str | None:
    """ "1 waiting for the reporter", or None when no report waits."""
    if not standing.awaiting_reporter:
        return None
    return ngettext(
        "%(count)s waiting for the reporter",
        "%(count)s waiting for the reporter",
        standing.awaiting_reporter,
        count=format_number(standing.awaiting_reporter),
    )


def share_in_words(compliance: Compliance) -> str:
    """The share of targets met on time as a percentage in the viewer's locale, or "No data"
    when none fell in the window (never "0 %")."""
    if compliance.shown_share is None:
        return _("No data")
    return format_percent(compliance.shown_share)
