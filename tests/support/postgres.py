"""A throwaway local PostgreSQL server for the test suite, and the pytest rule for `postgres`-marked tests.

`scripts/test.sh` runs `python -m tests.support.postgres start DIR` when TEST_DATABASE_URL is not set; it prints the URL
to export, and `... stop DIR` (from a shell trap) stops the server and deletes DIR. The server uses Debian's binaries in
/usr/lib/postgresql/<version>/bin, listens on a free port on 127.0.0.1 only and on a unix socket inside DIR, and runs
with durability switched off because test data is thrown away. PostgreSQL refuses to run as root, so as root every
command runs as the `postgres` system user (created by Debian's package) through runuser.

Register the pytest part with `from tests.support.postgres import pytest_runtest_setup  # noqa: F401` in a conftest,
or use the `postgres_url` fixture.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.support import free_port, in_ci

ENV_VAR = "TEST_DATABASE_URL"
DATABASE = "app_test"
SUPERUSER = "postgres"
_RUN_AS = "postgres"
_START_ATTEMPTS = 3


class PostgresError(RuntimeError):
    """The local server could not be set up; the message carries the server log tail."""


def find_bin_dir(root: Path = Path("/usr/lib/postgresql")) -> Path:
    """The newest installed server's bin directory (Debian installs one per major version)."""
    candidates = sorted(
        (p for p in root.glob("*/bin") if (p / "initdb").is_file() and p.parent.name.isdigit()),
        key=lambda p: int(p.parent.name),
    )
    if not candidates:
        raise PostgresError(f"no PostgreSQL server under {root}: install Debian's `postgresql` package")
    return candidates[-1]


def _as_server_user(argv: Sequence[str]) -> list[str]:
    if os.geteuid() != 0:
        return list(argv)
    return ["runuser", "-u", _RUN_AS, "--", *argv]


def _run(argv: Sequence[str], what: str) -> None:
    result = subprocess.run(
        _as_server_user(argv), capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    if result.returncode != 0:
        raise PostgresError(f"{what} failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def _chown_for_server(path: Path) -> None:
    if os.geteuid() != 0:
        return
    try:
        entry = pwd.getpwnam(_RUN_AS)
    except KeyError as exc:
        raise PostgresError(f"running as root needs the `{_RUN_AS}` user from Debian's postgresql package") from exc
    for item in [path, *path.rglob("*")]:
        os.chown(item, entry.pw_uid, entry.pw_gid)


def _log_tail(base: Path, lines: int = 30) -> str:
    log = base / "server.log"
    if not log.is_file():
        return "(no server log)"
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def url_for(port: int) -> str:
    # Trust authentication on loopback only: the server is private to this test run and never listens elsewhere.
    return f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{DATABASE}"


def start(base: Path) -> str:
    """initdb + start a server whose files all live under `base`; return its URL (written to base/url too)."""
    bin_dir = find_bin_dir()
    base.mkdir(parents=True, exist_ok=True)
    data, sock = base / "data", base / "socket"
    sock.mkdir(exist_ok=True)
    _chown_for_server(base)
    _run(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-locale",
         "--no-sync"],
        "initdb",
    )
    last_error: PostgresError | None = None
    for _ in range(_START_ATTEMPTS):  # another process may grab the free port before the server binds it
        port = free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=100"
        )
        try:
            _run(
                [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log"), "-o", options, "-w",
                 "-t", "30", "start"],
                "pg_ctl start",
            )
        except PostgresError as exc:
            last_error = PostgresError(f"{exc}\n--- server log ---\n{_log_tail(base)}")
            continue
        _run([str(bin_dir / "createdb"), "-h", str(sock), "-p", str(port), "-U", SUPERUSER, DATABASE], "createdb")
        url = url_for(port)
        (base / "url").write_text(url + "\n", encoding="utf-8")
        return url
    assert last_error is not None
    raise last_error


def halt(base: Path) -> None:
    """Stop the server under `base` as a crash would (immediate mode) and keep its files: a database gone from
    under a running app (tests/faults)."""
    _run([str(find_bin_dir() / "pg_ctl"), "-D", str(base / "data"), "-m", "immediate", "-w", "-t", "30", "stop"],
         "pg_ctl stop")


def stop(base: Path) -> None:
    """Stop the server under `base` (if running) and delete `base`. Safe to call twice."""
    data = base / "data"
    if (data / "postmaster.pid").is_file():
        try:
            # immediate: no checkpoint, since the data is about to be deleted anyway
            _run([str(find_bin_dir() / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "-t", "30", "stop"],
                 "pg_ctl stop")
        except PostgresError as exc:
            print(exc, file=sys.stderr)
    shutil.rmtree(base, ignore_errors=True)


# --- pytest -----------------------------------------------------------------------------------------------------

def missing_database_reason() -> str:
    return (
        f"{ENV_VAR} is not set: run `bash scripts/test.sh`, which starts a local PostgreSQL, "
        f"or set {ENV_VAR}=postgresql://user@host:port/db"
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip `postgres`-marked tests without a database, except on CI, where that is a failure."""
    if item.get_closest_marker("postgres") is None or os.environ.get(ENV_VAR):
        return
    if in_ci():
        pytest.fail(f"CI=true and {missing_database_reason()}", pytrace=False)
    pytest.skip(missing_database_reason())


@pytest.fixture
def postgres_url() -> str:
    """TEST_DATABASE_URL; skips (fails on CI) when it is not set."""
    url = os.environ.get(ENV_VAR, "")
    if not url:
        if in_ci():
            pytest.fail(f"CI=true and {missing_database_reason()}", pytrace=False)
        pytest.skip(missing_database_reason())
    return url


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.postgres", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("dir", type=Path, nargs="?", help="server directory (start: default a new temp dir)")
    args = parser.parse_args(argv)
    if args.action == "start":
        base = args.dir or Path(tempfile.mkdtemp(prefix="test-pg-"))
        try:
            print(start(base))
        except PostgresError as exc:
            print(f"could not start PostgreSQL: {exc}", file=sys.stderr)
            stop(base)
            return 1
        return 0
    if args.dir is None:
        parser.error("stop needs the server directory")
    stop(args.dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
