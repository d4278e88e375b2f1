"""/metrics answers only the metrics token or allowed addresses; /health/ready keeps its status public and shows
its details (upstream host, deployment name) only to operators and admins."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from tests.conftest import BASE_URL, AppFactory
from tests.support.auth import login
from web.accounts.networks import client_key

AZURE = {"realtime_upstream": "azure", "azure_openai_realtime_endpoint": "https://secret-host.example.com",
         "azure_openai_realtime_api_key": "k" * 32, "azure_openai_realtime_deployment_name": "secret-deployment"}


def _from(app: Starlette, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers={"Origin": BASE_URL})


async def test_metrics_are_refused_to_the_internet_and_served_to_the_token_and_loopback(
        app_factory: AppFactory) -> None:
    app = await app_factory(metrics_token="scrape-" + "s" * 32)
    async with _from(app, "203.0.113.7") as outsider, _from(app, "127.0.0.1") as local:
        refused = await outsider.get("/metrics")
        assert refused.status_code == 401 and "METRICS_TOKEN" in refused.text  # the message says what to do
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        wrong = await outsider.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        scraped = await outsider.get("/metrics", headers={"Authorization": "Bearer scrape-" + "s" * 32})
        assert scraped.status_code == 200 and "http_requests" in scraped.text
        assert (await local.get("/metrics")).status_code == 200
        # the wrong bearer was not taken for a device token: no failure counted against the address
        assert app.state.services.counters["token_auth_failures_total"] == 0


async def test_an_allow_list_admits_a_network_and_without_a_token_others_get_403(app_factory: AppFactory) -> None:
    app = await app_factory(metrics_allow_ips=("10.8.0.0/16",))
    async with _from(app, "10.8.3.4") as scraper, _from(app, "127.0.0.1") as local:
        assert (await scraper.get("/metrics")).status_code == 200
        assert (await local.get("/metrics")).status_code == 403


async def test_readiness_status_is_public_and_its_details_are_not(app_factory: AppFactory) -> None:
    app = await app_factory(**AZURE)
    svc = app.state.services
    await svc.users.create("admin@example.com", "Admin-Passw0rd!x", role="admin", check_policy=False)
    async with _from(app, "203.0.113.7") as outsider, _from(app, "203.0.113.8") as admin, \
            _from(app, "127.0.0.1") as local:
        public = await outsider.get("/health/ready")
        assert set(public.json()) <= {"status", "down"} and "secret-host" not in public.text  # names only
        assert "secret-deployment" not in public.text
        assert public.status_code in (200, 503)
        await login(admin, "admin@example.com", "Admin-Passw0rd!x")
        detailed = await admin.get("/health/ready")
        assert detailed.status_code == public.status_code and "checks" in detailed.json()
        assert "checks" in (await local.get("/health/ready")).json()
        assert (await outsider.get("/health")).json() == {"status": "ok"}  # liveness stays open to any probe


async def test_sign_ins_refused_before_hashing_are_exported_as_login_busy_total(app_factory: AppFactory) -> None:
    app = await app_factory()
    admission = app.state.services.login_admission
    async with _from(app, "127.0.0.1") as local:
        assert "\nlogin_busy_total 0" in (await local.get("/metrics")).text
        client = client_key("127.0.0.1")
        with admission.enter("", client), admission.enter("", client):  # the address's places are taken
            refused = await login(local, "someone@example.com", "Wrong-passw0rd")
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "5"
        await app.state.monitoring.collector.tick(0.0)  # gauges are sampled each tick; take one now
        assert "\nlogin_busy_total 1" in (await local.get("/metrics")).text
