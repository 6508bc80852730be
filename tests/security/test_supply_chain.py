"""Supply chain (issue 14, item 11): CI installs exactly the pinned, hash-checked releases of
``requirements/lock-test.txt``, and the lock stays in step with ``pyproject.toml``.

When ``pyproject.toml``'s dependencies or its ``test`` extra change, regenerate the lock with the command
written at its top (``uv pip compile ... --generate-hashes``); these tests fail until then.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "lock-test.txt"
LOCK_COMMAND = (
    "uv pip compile pyproject.toml --extra test --python-version 3.11.7 "
    "--python-platform x86_64-manylinux_2_28 --generate-hashes -o requirements/lock-test.txt"
)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)(?:\s*;\s*([^\\]+?))?\s*\\?$")


def project_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    return [Requirement(line) for line in lines]


def locked() -> dict[str, Version]:
    """The lock's pins, by canonical name; every pin must carry at least one hash."""
    pins: dict[str, Version] = {}
    lines = LOCK.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        match = PIN.match(line)
        if match is None:
            assert not line or line[0] in " #", f"lock line {number + 1} is not a pin: {line!r}"
            continue
        assert lines[number + 1].strip().startswith("--hash=sha256:"), f"{match[1]} is pinned without a hash"
        name = canonicalize_name(match[1])
        assert name not in pins, f"{name} is pinned twice"
        pins[name] = Version(match[2])
    return pins


def test_every_requirement_of_pyproject_is_pinned_in_the_lock_within_its_specifier() -> None:
    pins = locked()
    drift = []
    for requirement in project_requirements():
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        pinned = pins.get(canonicalize_name(requirement.name))
        if pinned is None:
            drift.append(f"{requirement} is not in the lock")
        elif not requirement.specifier.contains(pinned, prereleases=True):
            drift.append(f"{requirement} but the lock pins {pinned}")
    assert drift == [], f"{LOCK.name} is out of step with pyproject.toml, regenerate it: {drift}"


def test_the_extras_pyproject_asks_for_are_in_the_lock_too() -> None:
    """``psycopg[binary]`` needs ``psycopg-binary``: the extras' own requirements (read from the installed
    distribution's metadata) must be pinned as well."""
    pins = locked()
    missing = []
    for requirement in project_requirements():
        for extra in sorted(requirement.extras):
            for line in metadata.requires(requirement.name) or []:
                needed = Requirement(line)
                if needed.marker is None or not needed.marker.evaluate({"extra": extra}):
                    continue
                if needed.marker.evaluate({"extra": ""}):
                    continue  # not specific to this extra
                if canonicalize_name(needed.name) not in pins:
                    missing.append(f"{needed.name} (for {requirement.name}[{extra}])")
    assert missing == []


def test_the_lock_says_how_it_was_made_and_ci_installs_from_it_with_hashes() -> None:
    header = LOCK.read_text(encoding="utf-8")[:400]
    assert LOCK_COMMAND in header, "regenerate the lock with the documented command"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = readme.split("<!-- test-command -->", 1)[1].split("```bash\n", 1)[1].split("\n", 1)[0]
    assert "pip install --require-hashes -r requirements/lock-test.txt" in command
    # The locked pip first, the same pin as in the lock (an older one misreads hash-pinned extras).
    assert command.index("-r requirements/pip.txt") < command.index("-r requirements/lock-test.txt")
    bootstrap = (ROOT / "requirements" / "pip.txt").read_text(encoding="utf-8")
    pin = next(line for line in LOCK.read_text(encoding="utf-8").splitlines() if line.startswith("pip=="))
    assert pin in bootstrap.splitlines()
    assert "pip install --no-deps -e ." in command  # groundcode itself adds nothing unpinned
    assert "pip check" in command
