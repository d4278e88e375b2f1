"""Browser and OS name/version from the User-Agent, for the report only: support is decided by feature detection.

Chrome reduces its UA to `Chrome/<major>.0.0.0` (only the major is reliable); Edge adds `Edg/`; Safari's version is
`Version/x.y`; every iOS browser is WebKit (CriOS, FxiOS, EdgiOS carry their own brand). Order matters below: Edge and
Opera also say Chrome, Chrome also says Safari.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BROWSERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Internet Explorer", re.compile(r"MSIE (\d+(?:\.\d+)?)|Trident/.*?rv:(\d+(?:\.\d+)?)")),
    ("Edge", re.compile(r"(?:Edg|EdgA|EdgiOS|Edge)/(\d+(?:\.\d+)?)")),
    ("Opera", re.compile(r"(?:OPR|OPiOS)/(\d+(?:\.\d+)?)")),
    ("Samsung Internet", re.compile(r"SamsungBrowser/(\d+(?:\.\d+)?)")),
    ("Firefox", re.compile(r"(?:Firefox|FxiOS)/(\d+(?:\.\d+)?)")),
    ("Chrome", re.compile(r"(?:Chrome|CriOS|Chromium)/(\d+(?:\.\d+)?)")),
    ("Safari", re.compile(r"Version/(\d+(?:\.\d+)?).*Safari/")),
)
_OSES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("iOS", re.compile(r"(?:iPhone|iPad|iPod).*? OS (\d+(?:_\d+)?)")),
    ("Android", re.compile(r"Android (\d+(?:\.\d+)?)")),
    ("Windows", re.compile(r"Windows NT (\d+\.\d+)")),
    ("ChromeOS", re.compile(r"CrOS \S+ (\d+(?:\.\d+)?)")),
    ("macOS", re.compile(r"Mac OS X (\d+(?:[_.]\d+)?)")),
    ("Linux", re.compile(r"Linux()")),
)
_WINDOWS = {"10.0": "10/11", "6.3": "8.1", "6.2": "8", "6.1": "7"}


@dataclass(frozen=True)
class UserAgent:
    browser: str
    browser_version: str
    os: str
    os_version: str
    raw: str

    @property
    def is_internet_explorer(self) -> bool:
        return self.browser == "Internet Explorer"

    def version_tuple(self) -> tuple[int, ...]:
        try:
            return tuple(int(part) for part in self.browser_version.split(".") if part)
        except ValueError:
            return ()

    def browser_label(self) -> str:
        return f"{self.browser} {self.browser_version}".strip()

    def os_label(self) -> str:
        return f"{self.os} {self.os_version}".strip()


def parse_user_agent(ua: str) -> UserAgent:
    ua = ua[:512]
    browser, version = "Unknown", ""
    for name, pattern in _BROWSERS:
        match = pattern.search(ua)
        if match:
            browser, version = name, next((g for g in match.groups() if g), "")
            break
    os_name, os_version = "Unknown", ""
    for name, pattern in _OSES:
        match = pattern.search(ua)
        if match:
            os_name, os_version = name, (match.group(1) or "").replace("_", ".")
            break
    if os_name == "Windows":
        os_version = _WINDOWS.get(os_version, os_version)
    return UserAgent(browser, version, os_name, os_version, ua)
