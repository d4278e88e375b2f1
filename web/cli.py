"""Command line: `python -m web serve`, `python -m web users …`, `diagnose` and `device` (the reference client)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Sequence

from web.cli_diagnose import add_parser as add_diagnose_parser
from web.cli_diagnose import run as run_diagnose
from web.device_client import add_parser as add_device_parser
from web.device_client import run as run_device
from web.settings import SettingsError, load_settings


def _serve(args: argparse.Namespace) -> int:
    from web.serve import WorkerCountError, serve, worker_count

    try:
        settings = load_settings()
        workers = worker_count(settings)
    except (SettingsError, WorkerCountError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    port = args.port or settings.port
    host = args.host or settings.host
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host  # noqa: S104 - only compared, never bound here
    print(f"Serving on http://{shown}:{port} with {workers} worker process{'es' if workers > 1 else ''}",
          file=sys.stderr)
    return serve(settings, host, port)


def _read_password(args: argparse.Namespace) -> str:
    if getattr(args, "password", None):
        return str(args.password)
    env = os.environ.get("NEW_USER_PASSWORD")
    if env:
        return env
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Repeat password: "):
            raise SystemExit("error: the passwords do not match")
        return first
    return sys.stdin.readline().rstrip("\n")


async def _users(args: argparse.Namespace) -> int:
    from web.accounts.passwords import PasswordPolicyError
    from web.accounts.users import AccountError
    from web.cluster.wiring import broadcast_revocation
    from web.services import build_services

    svc = build_services(load_settings())

    async def tell_the_servers(handles: list[str]) -> None:  # live calls on every node end now, not at the sweep
        await broadcast_revocation(svc, handles)

    svc.sessions.add_revocation_listener(tell_the_servers)
    try:
        await svc.db.migrate()
        if args.action == "list":
            users = await svc.users.list()
            print(f"{'ID':>4}  {'EMAIL':32} {'ROLE':6} {'STATE':9} LAST LOGIN")
            for u in users:
                state = "disabled" if u.disabled else "active"
                last = "-" if u.last_login_at is None else _fmt_time(u.last_login_at)
                print(f"{u.id:>4}  {u.email:32} {u.role:6} {state:9} {last}")
            print(f"{len(users)} user(s)")
            return 0
        if args.action == "add":
            created = await svc.users.create(args.email, _read_password(args), display_name=args.name or "",
                                             role="admin" if args.admin else "user")
            print(f"created user {created.email} (id {created.id}, role {created.role})")
            return 0
        user = await svc.users.get_by_email(args.email)
        if user is None:
            print(f"error: no user with email {args.email}", file=sys.stderr)
            return 1
        if args.action in ("disable", "enable"):
            await svc.users.set_disabled(user.id, args.action == "disable")
            ended = await svc.sessions.revoke_user(user.id) if args.action == "disable" else 0
            print(f"{args.action}d {user.email}" + (f"; ended {ended} session(s)" if ended else ""))
        elif args.action == "set-password":
            await svc.users.set_password(user.id, _read_password(args))
            devices = await svc.tokens.revoke_all(user.id)
            ended = await svc.sessions.revoke_user(user.id)  # the server's credential sweep ends the tokens' calls
            print(f"password changed for {user.email}; ended {ended} session(s), revoked {devices} device token(s)")
        elif args.action == "promote":
            await svc.users.set_role(user.id, "admin")
            print(f"{user.email} is now an admin")
        return 0
    except (AccountError, PasswordPolicyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        await svc.db.close()
        svc.passwords.close()


def _fmt_time(ts: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m web", description="Smart glasses voice gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the web server (uvicorn)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    users = sub.add_parser("users", help="manage accounts")
    actions = users.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="create an account (password from --password, $NEW_USER_PASSWORD or stdin)")
    add.add_argument("email")
    add.add_argument("--password")
    add.add_argument("--name")
    add.add_argument("--admin", action="store_true")
    actions.add_parser("list", help="list accounts")
    for name, text in (("disable", "disable an account and end its sessions"), ("enable", "enable an account"),
                       ("promote", "make an account an admin")):
        actions.add_parser(name, help=text).add_argument("email")
    setpw = actions.add_parser("set-password", help="set a new password and end the account's sessions")
    setpw.add_argument("email")
    setpw.add_argument("--password")
    add_diagnose_parser(sub)
    add_device_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "diagnose":
        return run_diagnose(args)
    if args.command == "device":
        return run_device(args)
    try:
        return asyncio.run(_users(args))
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
