"""Connection diagnostics: the checklist page's verdicts, the saved reports and the `diagnose` CLI share this package.

- catalog.py: the checks, their titles and rules; thresholds.py: every number a verdict uses; mos.py: the MOS formula.
- rules_*.py: pure verdict functions (measured values → `CheckResult`); evaluate.py dispatches posted values to them.
- upstream_check.py, server_view.py: the checks the server runs itself; views.py, support.py: request-side helpers.
- store.py, report_id.py, access.py, present.py, export.py: saved reports, their IDs, who may read them, rendering.
- cli_run.py, probe_http.py, probe_rtc.py, local_checks.py: the terminal client (`python -m web diagnose`,
  argument parsing in web/cli_diagnose.py).
"""

from __future__ import annotations

from web.diagnostics.catalog import BY_ID, CHECKS, PAGE_CHECKS, CheckSpec
from web.diagnostics.model import FAIL, PASS, SKIP, WARN, CheckResult
from web.diagnostics.text import Text, t

__all__ = ["BY_ID", "CHECKS", "FAIL", "PAGE_CHECKS", "PASS", "SKIP", "WARN", "CheckResult", "CheckSpec", "Text", "t"]
