"""The account page's usage panel (loaded by htmx): this day's and month's use against the user's quota."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from web.auth.guards import login_required
from web.services import services
from web.templating import render


@login_required
async def account_usage(request: Request) -> Response:
    svc = services(request)
    user = request.state.user
    quotas = svc.usage.quotas
    context = {"limits": await quotas.limits_for(user.id), "used": await quotas.used(user.id),
               "exempt": quotas.exempt(user)}
    return render(request, "partials/account_usage.html", context)


routes: list[BaseRoute] = [Route("/account/usage", account_usage, methods=["GET"], name="account_usage")]
