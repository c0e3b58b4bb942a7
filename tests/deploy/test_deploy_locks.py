"""The lock files (`make lock`): each requirements.txt has a requirements.lock beside it that pins what it
names at the same version, everything else it pulls in, and the hashes of every package; project/venv.lock
(the venv behind `make run` and the tests) resolves every part together, and no lock strays from it."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from deploy_support import PROJECT, ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

VENV_LOCK = PROJECT / "venv.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
VIA_FILE = re.compile(r"-r (\S+)")


@dataclass(frozen=True)
class Pin:
    version: str
    hashes: tuple[str, ...]
    via_files: frozenset[str]


def requirement_files() -> list[Path]:
    """Every requirements.txt of the repository (none under a hidden folder such as .venv)."""
    return sorted(
        p for p in ROOT.rglob("requirements.txt") if not any(part.startswith(".") for part in p.parts)
    )


def direct_pins(requirements: Path) -> dict[str, str]:
    """name -> version of what a requirements file names, following its `-r` includes."""
    pins: dict[str, str] = {}
    for raw in requirements.read_text().splitlines():
        line = raw.split("#")[0].strip()
        if line.startswith("-r "):
            pins |= direct_pins(requirements.parent / line[3:].strip())
        elif line:
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==", f"{requirements.relative_to(ROOT)} pins {line} with =="
            pins[canonicalize_name(requirement.name)] = spec.version
    return pins


def included_files(requirements: Path) -> set[str]:
    """The requirements file and those it includes, as pip-compile names them (relative to the root)."""
    names = {str(requirements.relative_to(ROOT))}
    for line in requirements.read_text().splitlines():
        if line.startswith("-r "):
            names |= included_files((requirements.parent / line[3:].strip()).resolve())
    return names


@cache
def read_lock(lock: Path) -> tuple[list[str], dict[str, Pin]]:
    """The source files of pip-compile's command in the header, and each pinned package."""
    text = lock.read_text()
    command = re.search(r"^#\s+(pip-compile .*)$", text, flags=re.MULTILINE)
    assert command, f"{lock.relative_to(ROOT)} was not made by pip-compile (`make lock`)"
    sources = [arg for arg in shlex.split(command.group(1))[1:] if not arg.startswith("-")]
    pins: dict[str, Pin] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = PIN.match(block)
        if match:
            pins[canonicalize_name(match.group(1))] = Pin(
                version=match.group(2),
                hashes=tuple(re.findall(r"--hash=sha256:([0-9a-f]{64})", block)),
                via_files=frozenset(VIA_FILE.findall(block)),
            )
    return sources, pins


def check_lock(lock: Path, sources: list[Path]) -> None:
    name = lock.relative_to(ROOT)
    listed, pins = read_lock(lock)
    assert sorted(set(listed)) == sorted(str(s.relative_to(ROOT)) for s in sources), (
        f"{name} was compiled from {listed}: run `make lock`"
    )
    unhashed = sorted(package for package, pin in pins.items() if not pin.hashes)
    assert not unhashed, f"{name} has packages without hashes: {unhashed}"
    wanted: dict[str, str] = {}
    files: set[str] = set()
    for source in sources:
        wanted |= direct_pins(source)
        files |= included_files(source)
    stale = {
        package: (version, pins[package].version if package in pins else None)
        for package, version in wanted.items()
        if package not in pins or pins[package].version != version
    }
    assert not stale, f"{name} disagrees with its requirements (wanted, locked): {stale}; run `make lock`"
    dropped = sorted(
        package for package, pin in pins.items() if pin.via_files & files and package not in wanted
    )
    assert not dropped, (
        f"{name} still pins {dropped} for requirements that no longer name them; run `make lock`"
    )


@pytest.mark.parametrize("requirements", requirement_files(), ids=lambda p: str(p.parent.relative_to(ROOT)))
def test_each_requirements_file_has_a_lock_that_agrees_with_it(requirements: Path) -> None:
    lock = requirements.with_suffix(".lock")
    assert lock.is_file(), (
        f"{requirements.relative_to(ROOT)} has no requirements.lock beside it: run `make lock`"
    )
    check_lock(lock, [requirements])


def test_the_venv_lock_resolves_every_part_of_the_lab_together() -> None:
    parts = [
        p for p in requirement_files() if p.parent.name.endswith("-service") or p.parent.name in {"front-end"}
    ] + [PROJECT / "requirements.txt", ROOT / "tests" / "requirements.txt"]
    check_lock(VENV_LOCK, parts)


@pytest.mark.parametrize("requirements", requirement_files(), ids=lambda p: str(p.parent.relative_to(ROOT)))
def test_each_lock_pins_the_versions_the_venv_runs(requirements: Path) -> None:
    """What a container installs is what `make run` and the tests run, package for package."""
    _, venv = read_lock(VENV_LOCK)
    _, pins = read_lock(requirements.with_suffix(".lock"))
    differ = {
        p: (pin.version, venv[p].version if p in venv else None)
        for p, pin in pins.items()
        if p not in venv or venv[p].version != pin.version
    }
    assert not differ, f"{requirements.relative_to(ROOT)}'s lock and project/venv.lock differ: {differ}"
