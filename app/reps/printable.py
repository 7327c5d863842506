"""The rep's daily list as one printable A4 sheet, for reps who have no screen.

Only what the JSON list carries is printed: the date, the rep's name, and per task the case
reference, what to do, whom to see and where. Never risk notes, consents or prisoner numbers.
"""

import base64
import hashlib
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from app.reps.schemas import DailyList, DailyTask

# One sheet per rep, whatever the day brings: at most this many lines, and no cell longer than
# this, so that a full list of the longest texts still fits one A4 page
# (tests/reps/test_printable.py prints one with Chromium and counts the pages).
MAX_LINES = 12
MAX_WHAT = 150
MAX_WHOM = 40
MAX_WHERE = 30

STYLE = """
@page { size: A4; margin: 12mm; }
* { box-sizing: border-box; }
html, body { margin: 0; padding: 0; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 8.5pt; color: #000; }
header { border-bottom: 1.5pt solid #000; padding-bottom: 2mm; margin-bottom: 3mm; }
h1 { font-size: 15pt; margin: 0 0 1mm 0; }
.meta { font-size: 10pt; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; }
th { text-align: left; font-size: 8pt; border-bottom: 1pt solid #000; padding: 1mm; }
td { vertical-align: top; padding: 1.5mm 1mm; border-bottom: 0.5pt solid #888; line-height: 1.25; }
td.tick { width: 9mm; }
.box { display: inline-block; width: 5mm; height: 5mm; border: 1pt solid #000; }
col.tick { width: 9mm; } col.due { width: 19mm; } col.case { width: 25mm; }
col.whom { width: 28mm; } col.where { width: 24mm; }
.overdue { font-weight: bold; }
.more { margin-top: 3mm; font-weight: bold; }
.empty { margin-top: 6mm; font-size: 11pt; }
footer { margin-top: 5mm; font-size: 8.5pt; border-top: 0.5pt solid #888; padding-top: 2mm; }
"""
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
# The service's usual policy forbids every style; this page allows exactly its own.
CONTENT_SECURITY_POLICY = f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; frame-ancestors 'none'"


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _due(task: DailyTask, zone: ZoneInfo, day: datetime) -> str:
    local = task.due_at.astimezone(zone)
    if local.date() < day.date():
        return f"OVERDUE since {local:%d %b %H:%M}"
    return f"{local:%H:%M}" + (" OVERDUE" if task.overdue else "")


def _row(task: DailyTask, zone: ZoneInfo, day: datetime) -> str:
    cls = ' class="overdue"' if task.overdue else ""
    return (
        "<tr>"
        '<td class="tick"><span class="box"></span></td>'
        f"<td{cls}>{escape(_due(task, zone, day))}</td>"
        f"<td>{escape(task.case_reference or '')}</td>"
        f"<td>{escape(_shorten(task.what, MAX_WHAT))}</td>"
        f"<td>{escape(_shorten(task.whom or '', MAX_WHOM))}</td>"
        f"<td>{escape(_shorten(task.where or '', MAX_WHERE))}</td>"
        "</tr>"
    )


def render(daily: DailyList) -> str:
    """The sheet as a complete HTML document."""
    zone = ZoneInfo(daily.timezone)
    day = datetime.combine(daily.date, datetime.min.time(), tzinfo=zone)
    shown = daily.tasks[:MAX_LINES]
    rest = len(daily.tasks) - len(shown)
    date_words = f"{day:%A} {day.day} {day:%B %Y}"
    rows = "".join(_row(t, zone, day) for t in shown)
    body = (
        "<table><colgroup>"
        '<col class="tick"><col class="due"><col class="case"><col class="what">'
        '<col class="whom"><col class="where"></colgroup>'
        "<thead><tr><th>Done</th><th>When</th><th>Case</th><th>What to do</th><th>Whom to see</th>"
        "<th>Where</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        if shown
        else '<p class="empty">No tasks for today.</p>'
    )
    more = (
        f'<p class="more">{rest} more task{"s" if rest != 1 else ""} not on this sheet: '
        "ask your practitioner.</p>"
        if rest > 0
        else ""
    )
    generated = daily.generated_at.astimezone(zone)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>Tasks for {escape(daily.rep_name)}, {escape(date_words)}</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<header><h1>Tasks for {escape(daily.rep_name)}</h1>"
        f'<div class="meta">{escape(date_words)} &middot; {escape(daily.prison_id)} &middot; '
        f"{len(daily.tasks)} task{'s' if len(daily.tasks) != 1 else ''}</div></header>"
        f"{body}{more}"
        "<footer>Tick each task when it is done and hand this sheet back to your practitioner. "
        "If you are worried about anyone's safety, tell a member of staff straight away. "
        f"Printed {generated:%d %b %Y %H:%M}.</footer>"
        "</body></html>\n"
    )
