"""The summary report as a printable page, with its main figures by month drawn as SVG.

Built as text, like the rep's printed task list: every value escaped, no script, no asset from
outside the page, and a content security policy that allows exactly its own style.
"""

import base64
import hashlib
from collections.abc import Sequence
from datetime import datetime
from html import escape

from app.reports.schemas import FeedbackCell, ReportSummary
from app.reports.service import MonthFigures

STYLE = """
@page { size: A4; margin: 14mm; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 9.5pt; color: #0b0c0c; }
h1 { font-size: 16pt; margin: 0 0 2mm 0; }
h2 { font-size: 12pt; margin: 6mm 0 2mm 0; border-bottom: 1pt solid #0b0c0c; }
h3 { font-size: 10pt; margin: 3mm 0 1mm 0; }
table { border-collapse: collapse; margin-bottom: 2mm; }
th, td { text-align: left; padding: 1mm 3mm 1mm 0; border-bottom: 0.5pt solid #b1b4b6; vertical-align: top; }
td.n { text-align: right; }
.meta, .definition { color: #505a5f; }
.definition { font-size: 8pt; margin: 0 0 2mm 0; }
.charts { display: flex; flex-wrap: wrap; gap: 4mm; }
"""
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; frame-ancestors 'none'"

BAR = "#1d70b8"
CHART_WIDTH, CHART_HEIGHT = 330, 150
TOP, BOTTOM, LEFT = 18, 24, 6


def bar_chart(title: str, labels: list[str], values: list[float]) -> str:
    """One figure by month as an SVG bar chart, each bar labelled with its value."""
    top = max(values, default=0) or 1
    slot = (CHART_WIDTH - 2 * LEFT) / max(len(values), 1)
    plot = CHART_HEIGHT - TOP - BOTTOM
    # Month names fit under at most 12 bars; beyond that, every second (or third) is named.
    every = -(-len(values) // 12) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="{CHART_HEIGHT}" '
        f'viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="11" font-size="10" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{TOP + plot}" x2="{CHART_WIDTH - LEFT}" y2="{TOP + plot}" stroke="#0b0c0c"/>',
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        height = plot * value / top
        x = LEFT + i * slot + slot * 0.15
        width = slot * 0.7
        y = TOP + plot - height
        shown = f"{value:g}"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" fill="{BAR}">'
            f"<title>{escape(label)}: {shown}</title></rect>"
        )
        parts.append(
            f'<text x="{x + width / 2:.1f}" y="{y - 2:.1f}" font-size="7" text-anchor="middle">{shown}</text>'
        )
        if i % every == 0:
            parts.append(
                f'<text x="{x + width / 2:.1f}" y="{CHART_HEIGHT - 12}" font-size="7" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _table(rows: Sequence[tuple[str, object]]) -> str:
    body = "".join(
        f'<tr><th scope="row">{escape(k)}</th><td class="n">{escape(_shown(v))}</td></tr>' for k, v in rows
    )
    return f"<table>{body}</table>"


def _shown(value: object) -> str:
    return "-" if value is None else str(value)


def _definition(report: ReportSummary, name: str) -> str:
    return f'<p class="definition">{escape(report.definitions[name])}</p>'


def _cell(cell: FeedbackCell) -> str:
    if cell.suppressed:
        return "suppressed"
    return (
        f"{cell.answers} answers: heard {cell.felt_heard}, safe {cell.felt_safe}, "
        f"recommend {cell.would_recommend}"
    )


def render(report: ReportSummary, months: list[MonthFigures], generated: datetime) -> str:
    """The report as a complete HTML document."""
    prisons = ", ".join(report.prison_ids) if report.prison_ids is not None else "every prison"
    labels = [f"{m.month:%b %y}" for m in months]
    charts = "".join(
        [
            bar_chart("Cases referred", labels, [m.referred for m in months]),
            bar_chart("Cases whose work ended", labels, [m.ended for m in months]),
            bar_chart("Reps' hours", labels, [m.rep_hours for m in months]),
        ]
    )
    wb = report.wellbeing_checks
    rh = report.rep_hours
    rtc = report.referral_to_conclusion
    sections = [
        "<h2>By month</h2>",
        f'<div class="charts">{charts}</div>',
        '<p class="definition">Each month as the figures below define it; the first and last month '
        "only for their days inside the period.</p>",
        "<h2>Cases</h2>",
        _table([("Referred", report.cases_referred)]),
        _definition(report, "casesReferred"),
        "<h3>By state now</h3>",
        _table(list(report.by_state.items())),
        "<h3>By outcome</h3>",
        _table(list(report.by_outcome.items())),
        _definition(report, "byOutcome"),
        "<h3>Declined, by reason</h3>",
        _table(list(report.by_decline_reason.items())),
        "<h3>From referral to the end of the work</h3>",
        _table(
            [("Ended", rtc.concluded), ("Median days", rtc.median_days), ("90th percentile", rtc.p90_days)]
        ),
        _definition(report, "referralToConclusion"),
        "<h2>Wellbeing checks</h2>",
        _table(
            [
                ("Due", wb.due),
                ("Completed", wb.completed),
                ("On time", wb.on_time),
                ("Overdue", wb.overdue),
                ("Not yet due", wb.not_yet_due),
                ("Cancelled", wb.cancelled),
                ("Share on time", wb.share_on_time),
            ]
        ),
        _definition(report, "wellbeingChecks"),
        "<h2>Safeguarding concerns</h2>",
        _table(
            [
                ("Raised", report.concerns.raised),
                ("Acknowledged", report.concerns.acknowledged),
                ("Still open", report.concerns.still_open),
                ("Open now", report.concerns.open_now),
                ("Median minutes to acknowledge", report.concerns.median_minutes_to_acknowledge),
            ]
        ),
        "<h2>Reps' hours</h2>",
        _table([("Total hours", rh.total_hours), *((r.name, r.hours) for r in rh.by_rep or [])]),
        _definition(report, "repHours"),
        "<h2>Feedback from participants</h2>",
        _feedback(report),
        _definition(report, "feedback"),
    ]
    title = f"Restorative justice summary, {report.period.from_:%d %b %Y} to {report.period.to:%d %b %Y}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f'<p class="meta">{escape(prisons)} &middot; days in {escape(report.period.time_zone)} &middot; '
        f"printed {generated:%d %b %Y %H:%M}</p>"
        f"{''.join(sections)}"
        "</body></html>\n"
    )


def _feedback(report: ReportSummary) -> str:
    block = report.feedback
    if block.period is None:
        return "<p>No whole calendar month in this period.</p>"
    out = [f'<p class="meta">Whole months {block.period.from_:%b %Y} to {block.period.to:%b %Y}.</p>']
    for stage in block.stages:
        if not stage.months:
            continue
        roles = list(stage.months[0].by_role)
        head = "".join(f"<th>{escape(r)}</th>" for r in [*roles, "all"])
        rows = "".join(
            f"<tr><th>{escape(m.month)}</th>"
            + "".join(f"<td>{escape(_cell(m.by_role[r]))}</td>" for r in roles)
            + f"<td>{escape(_cell(m.total))}</td></tr>"
            for m in stage.months
        )
        out.append(f"<h3>At {escape(stage.stage.replace('_', ' '))}</h3>")
        out.append(f"<table><tr><th>Month</th>{head}</tr>{rows}</table>")
    return "".join(out)
