"""The lock files pin every package with hashes, match pyproject.toml, and are what every install uses."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
REFRESH = "the lock is out of date with pyproject.toml: run `bash scripts/lock.sh` and commit the lock files"
_ENTRY = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)", re.MULTILINE)


def _lock(name: str) -> tuple[dict[str, str], str]:
    text = (ROOT / name).read_text(encoding="utf-8")
    pins = {canonicalize_name(m.group(1)): m.group(2) for m in _ENTRY.finditer(text)}
    return pins, text


def _project() -> dict[str, list[str]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {"requirements.lock": data["dependencies"],
            "requirements-test.lock": data["dependencies"] + data["optional-dependencies"]["test"]}


@pytest.mark.parametrize("lock_name", ["requirements.lock", "requirements-test.lock"])
def test_the_lock_pins_every_dependency_of_pyproject(lock_name: str) -> None:
    pins, text = _lock(lock_name)
    problems = []
    for line in _project()[lock_name]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        if name not in pins:
            problems.append(f"{requirement.name} is missing")
        elif not requirement.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{requirement.name}=={pins[name]} does not satisfy {requirement.specifier}")
    assert not problems, f"{lock_name}: {REFRESH} ({'; '.join(problems)})"
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n\n", 1)[-1] if text.startswith("#") else text)
    unhashed = [b.split("==")[0] for b in blocks if "==" in b and "--hash=sha256:" not in b]
    assert not unhashed, f"{lock_name} has entries without hashes ({unhashed}): {REFRESH}"


def test_every_install_uses_the_locks_with_hashes() -> None:
    bootstrap = (ROOT / "scripts" / "bootstrap.sh").read_text(encoding="utf-8")
    assert "--require-hashes -r requirements-test.lock" in bootstrap and "--require-hashes -r requirements.lock" \
        in bootstrap
    assert "--no-deps -e ." in bootstrap  # the project itself stays an editable install
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "pip install --require-hashes -r requirements.lock" in dockerfile and "--no-deps" in dockerfile
    heroku = [line.strip() for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
              if line.strip() and not line.startswith("#")]
    assert heroku == ["-r requirements.lock"], heroku
