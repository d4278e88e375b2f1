"""Everything in tests/browser drives headless Chromium: marked `browser`, skipped without /usr/bin/chromium
(failed instead on CI, where bootstrap.sh --test must have installed it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser

from tests.support import in_ci
from tests.support.browser import CHROMIUM, launch_chromium
from tests.support.live_server import live_server_factory  # noqa: F401  (fixture)

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A conftest hook sees every collected item, so mark only the ones in this folder.
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True)
def _require_chromium() -> None:
    if CHROMIUM.is_file():
        return
    reason = f"{CHROMIUM} is missing (install it with `bash scripts/bootstrap.sh --test`)"
    if in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """A fresh headless Chromium with the default flags (fake mic device, mic prompts accepted)."""
    async with launch_chromium() as launched:
        yield launched
