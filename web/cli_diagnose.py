"""`python -m web diagnose URL [--email … --password …] [--json] [--local]`: the diagnostics checklist in a terminal.

Prints one line per check with the same verdicts and fix texts as the /diagnostics page (zh-CN unless LANG or
--lang says English), the report ID the server saved the run under, and exits 1 when any check failed (2 on a usage
error). `scripts/diagnose-connection.sh` wraps it.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from web.diagnostics.model import FAIL
from web.diagnostics.present import row_lines, rows, summary
from web.diagnostics.report_id import display_id
from web.i18n import N_, translate

if TYPE_CHECKING:  # the run itself imports aiortc; `python -m web users …` should not pay for that
    from web.diagnostics.cli_run import Run


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "diagnose", help="check a running server end to end (health, sign-in, upstream, a real WebRTC call)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", nargs="?", default="", help="the server's address, e.g. https://voice.example.com")
    parser.add_argument("--email", default=os.environ.get("DIAGNOSE_EMAIL", ""), help="sign in as this account")
    parser.add_argument("--password", default=None,
                        help="its password (else $DIAGNOSE_PASSWORD, else asked for on a terminal)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--local", action="store_true",
                        help="also run the server-host checks: database, log queue, event-loop lag, upstream config")
    parser.add_argument("--seconds", type=int, default=10, help="length of the call-quality measurement (1-30)")
    parser.add_argument("--no-report", action="store_true", help="do not save the run as a report on the server")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each check's rule too")
    parser.add_argument("--lang", choices=("zh-CN", "en"), default=None, help="output language (default from $LANG)")
    return parser


def _locale(choice: str | None) -> str:
    if choice:
        return choice
    return "en" if os.environ.get("LANG", "").lower().startswith("en") else "zh-CN"


def _password(args: argparse.Namespace) -> str:
    if args.password is not None:
        return str(args.password)
    if os.environ.get("DIAGNOSE_PASSWORD"):
        return os.environ["DIAGNOSE_PASSWORD"]
    return getpass.getpass("Password: ") if args.email and sys.stdin.isatty() else ""


def _print_text(run: Run, url: str, locale: str, verbose: bool) -> None:
    title = translate(N_("Smart Glasses Voice — diagnostics report"), locale)
    print(f"{title}: {url or 'localhost'}")
    for shown in rows(run.results, locale):
        for line in row_lines(shown, locale, with_rule=verbose):
            print(line)
    print(summary(run.results, locale))
    if run.report_id:
        print(f"{translate(N_('Report ID'), locale)}: {display_id(run.report_id)}")


def _as_json(run: Run, url: str, locale: str) -> dict[str, Any]:
    return {
        "url": url,
        "report_id": display_id(run.report_id) if run.report_id else None,
        "ok": not any(r.status == FAIL for r in run.results),
        "summary": summary(run.results, locale),
        "checks": [{"check": r.id, "title": r.title, "status": r.status, "value": r.value, "fixes": list(r.fixes),
                    "data": r.data} for r in rows(run.results, locale)],
    }


def run(args: argparse.Namespace) -> int:
    from web.diagnostics.cli_run import Options, diagnose
    from web.settings import SettingsError, load_settings

    if not args.url and not args.local:
        print("error: give the server's URL, or --local on the server host", file=sys.stderr)
        return 2
    settings = None
    if args.local:
        try:
            settings = load_settings()
        except SettingsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    options = Options(url=args.url.rstrip("/"), email=args.email, password=_password(args), local=args.local,
                      save=not args.no_report, quality_seconds=max(1, min(30, args.seconds)))
    try:
        result = asyncio.run(diagnose(options, settings))
    except Exception as exc:  # a last resort: still a verdict, still JSON with --json
        from web.diagnostics.cli_run import Run
        result = Run()
        result.broke(exc)
    locale = _locale(args.lang)
    if args.json:
        print(json.dumps(_as_json(result, options.url, locale), ensure_ascii=False, indent=2, default=str))
    else:
        _print_text(result, options.url, locale, args.verbose)
    return 1 if any(r.status == FAIL for r in result.results) else 0
