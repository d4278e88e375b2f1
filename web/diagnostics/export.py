"""A stored report as plain text (「复制文本」, support e-mails) and as JSON (the download), in one locale."""

from __future__ import annotations

from typing import Any

from web.diagnostics.present import row_lines, rows, summary, utc_text
from web.diagnostics.report_id import display_id
from web.diagnostics.store import StoredReport
from web.i18n import N_, gettext, translate


def _tr(msgid: str, locale: str | None) -> str:
    return translate(msgid, locale) if locale else gettext(msgid)


def facts(report: StoredReport, locale: str | None = None) -> list[tuple[str, str]]:
    """The header facts, label first, shared by the page, the text and the print."""
    meta = report.meta
    pairs = [
        (_tr(N_("Report ID"), locale), display_id(report.id)),
        (_tr(N_("Time"), locale), utc_text(report.created_at)),
        (_tr(N_("App version"), locale), str(meta.get("app_version", ""))),
        (_tr(N_("Browser"), locale), str(meta.get("browser", ""))),
        (_tr(N_("Operating system"), locale), str(meta.get("os", ""))),
    ]
    mic = meta.get("mic")
    if isinstance(mic, dict) and mic:
        pairs.append((_tr(N_("Microphone settings"), locale), ", ".join(f"{k}={v}" for k, v in mic.items())))
    pair = meta.get("candidate_pair")
    if isinstance(pair, dict) and pair:
        pairs.append((_tr(N_("Selected candidate pair"), locale), ", ".join(f"{k}={v}" for k, v in pair.items())))
    return [(label, value) for label, value in pairs if value]


def report_text(report: StoredReport, locale: str | None = None) -> str:
    title = _tr(N_("Smart Glasses Voice — diagnostics report"), locale)
    lines = [f"{title} {display_id(report.id)}"]
    lines += [f"{label}: {value}" for label, value in facts(report, locale)[1:]]
    lines.append(summary(report.results, locale))
    lines.append("")
    for r in rows(report.results, locale):
        lines += row_lines(r, locale)
    return "\n".join(lines) + "\n"


def report_json(report: StoredReport, locale: str | None = None) -> dict[str, Any]:
    return {
        "id": display_id(report.id),
        "created_at": utc_text(report.created_at),
        "updated_at": utc_text(report.updated_at),
        "source": report.source,
        "meta": report.meta,
        "summary": summary(report.results, locale),
        "checks": [
            {"check": r.id, "title": r.title, "status": r.status, "value": r.value, "rule": r.rule,
             "fixes": list(r.fixes), "data": r.data}
            for r in rows(report.results, locale)
        ],
    }
