"""Sign in the way a browser does: fetch the form, take the CSRF token, post the form."""

from __future__ import annotations

import re

import httpx

DEMO_EMAIL = "betty@123.com"
DEMO_PASSWORD = "Betty@123.com"
_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


async def csrf_token(client: httpx.AsyncClient, path: str = "/login") -> str:
    response = await client.get(path)
    match = _META.search(response.text)
    assert match, f"no csrf meta tag on {path} (status {response.status_code})"
    return match.group(1)


async def login(client: httpx.AsyncClient, email: str = DEMO_EMAIL, password: str = DEMO_PASSWORD,
                next_url: str = "/") -> httpx.Response:
    token = await csrf_token(client)
    return await client.post("/login", data={"email": email, "password": password, "csrf_token": token,
                                             "next": next_url})


async def page_token(client: httpx.AsyncClient, path: str = "/") -> str:
    """The CSRF token a signed-in page carries (after login the seed rotates)."""
    return await csrf_token(client, path)
