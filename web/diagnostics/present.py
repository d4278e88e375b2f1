"""Check results as people read them: one row per check (page, printed report, copied text, CLI)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from web.diagnostics.catalog import BY_ID, CheckSpec
from web.diagnostics.causality import DEFERRED, DEFERRED_KEY, first_cause
from web.diagnostics.model import FAIL, ICONS, PASS, SKIP, WARN, CheckResult
from web.diagnostics.text import t
from web.i18n import N_, gettext, translate

STATUS_LABELS = {PASS: N_("pass"), WARN: N_("warning"), FAIL: N_("fail"), SKIP: N_("skipped"),
                 "pending": N_("not run yet")}
NEEDS_LOGIN = t(N_("needs sign-in"))


@dataclass(frozen=True)
class Row:
    id: str
    title: str
    status: str  # pass | warn | fail | skip | pending
    icon: str
    status_label: str
    value: str
    rule: str
    fixes: tuple[str, ...]
    data: dict[str, object]


def _tr(msgid: str, locale: str | None) -> str:
    return translate(msgid, locale) if locale else gettext(msgid)


def _value(result: CheckResult | None, locale: str | None) -> str:
    if result is None or result.value is None:
        return ""
    dep = result.data.get(DEFERRED_KEY)
    if isinstance(dep, str) and dep in BY_ID:  # the row it defers to, by its title in this locale
        return t(DEFERRED, row=_tr(BY_ID[dep].title, locale)).render(locale)
    return result.value.render(locale)


def row(spec: CheckSpec, result: CheckResult | None, locale: str | None = None) -> Row:
    status = result.status if result else "pending"
    return Row(
        id=spec.id,
        title=_tr(spec.title, locale),
        status=status,
        icon=ICONS.get(status, "…"),
        status_label=_tr(STATUS_LABELS[status], locale),
        value=_value(result, locale),
        rule=spec.rule.render(locale),
        fixes=tuple(f.render(locale) for f in result.fixes) if result and result.status != PASS else (),
        data=dict(result.data) if result else {},
    )


def rows(results: Iterable[CheckResult], locale: str | None = None) -> list[Row]:
    return [row(BY_ID[r.check_id], r, locale) for r in results if r.check_id in BY_ID]


def summary(results: Iterable[CheckResult], locale: str | None = None) -> str:
    listed = list(results)
    counts = {status: sum(1 for r in listed if r.status == status) for status in (PASS, WARN, FAIL, SKIP)}
    text = t(N_("{fail} failed, {warn} warnings, {pass_} passed, {skip} skipped"), fail=counts[FAIL],
             warn=counts[WARN], pass_=counts[PASS], skip=counts[SKIP]).render(locale)
    cause = first_cause(r for r in listed if r.check_id in BY_ID)
    if cause is None:
        return text
    shown = row(BY_ID[cause.check_id], cause, locale)
    fix = f" → {shown.fixes[0]}" if shown.fixes else ""
    first = t(N_("First cause: 「{row}」: {value}"), row=shown.title, value=shown.value).render(locale)
    return f"{text}. {first}{fix}"


def utc_text(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def row_lines(r: Row, locale: str | None = None, *, with_rule: bool = True, ascii_only: bool = False) -> list[str]:
    """A row as plain text: the verdict line, then the rule and the fixes indented."""
    mark = {PASS: "[PASS]", WARN: "[WARN]", FAIL: "[FAIL]", SKIP: "[SKIP]"}.get(r.status, "[----]")
    head = f"{mark if ascii_only else r.icon} {r.title} ({r.id}): {r.value or r.status_label}"
    lines = [head]
    if with_rule:
        label = _tr(N_("Rule"), locale)
        lines.append(f"    {label}: {r.rule}")
    lines.extend(f"    → {fix}" for fix in r.fixes)
    return lines
