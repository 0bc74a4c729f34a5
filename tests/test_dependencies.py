"""Who needs which packages: pyproject.toml's sets, resolved by pip against the real indexes.

The main set is what `pulumi up` runs (the program and the policy pack) and what
`pulumi install` installs (stacks/requirements.txt), so it must install from wheels on
a platform engineer's Mac as well as on Linux, at the versions of the lock. The `local`
extra (the real Triton from nvidia-pytriton) is Linux only.

Each resolution is `pip install --dry-run` for a foreign platform: wheels only, nothing
installed, the lock as constraints, a JSON report of what would be installed. It needs
the package index (as `make venv` does); about 2-4 s each with metadata from the index.

Linux means glibc 2.28 or newer (manylinux_2_28: RHEL 8, Debian 10, Ubuntu 20.04 and
later) for the main set: python-rapidjson, which tritonclient requires, publishes no
manylinux2014 (glibc 2.17) wheel from 1.21 on, and the lock has 1.25. The local extra
needs glibc 2.35 (Ubuntu 22.04, Debian 12): nvidia-pytriton 0.7.0's only wheel is
manylinux_2_35.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import REPO

PYPROJECT = REPO / "pyproject.toml"
LOCK = REPO / "constraints.txt"
PULUMI_INSTALL = REPO / "stacks" / "requirements.txt"

PYTHON = "3.11"
PIP_TIMEOUT_S = 300


def manylinux(glibc_minor: int) -> list[str]:
    """The wheel platforms a glibc 2.<minor> x86_64 machine takes, newest first.

    pip widens the legacy manylinux2014 tag to manylinux2010 and manylinux1 itself;
    PEP 600 tags (manylinux_2_<n>) it takes only as given.
    """
    return [f"manylinux_2_{n}_x86_64" for n in range(glibc_minor, 16, -1)] + [
        "manylinux2014_x86_64"
    ]


# pip widens a macOS tag to every older macOS release and to universal2 wheels.
MACOS_ARM64 = ["macosx_14_0_arm64"]
LINUX_MAIN = manylinux(28)
LINUX_LOCAL = manylinux(35)

# What only the local serving stack and the benchmarks use; never in the main set.
LOCAL_ONLY = ("nvidia-", "pytriton", "matplotlib")


def project() -> dict[str, Any]:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]


def lock() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for raw in LOCK.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"constraints.txt: {line!r} is not an exact pin (name==version)"
        pins[canonicalize_name(name)] = Version(version)
    return pins


def resolve(
    requirements: list[str], platforms: list[str], tmp_path: Path
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """pip's answer for installing `requirements` on `platforms`, and its report."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    report = tmp_path / "report.json"
    platform_args = [arg for p in platforms for arg in ("--platform", p)]
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--ignore-installed",
        "--only-binary=:all:",
        *platform_args,
        "--python-version",
        PYTHON,
        "--implementation",
        "cp",
        "--target",
        str(tmp_path / "target"),
        "-c",
        str(LOCK),
        "--report",
        str(report),
        "--quiet",
        "--disable-pip-version-check",
        *requirements,
    ]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"pip took over {PIP_TIMEOUT_S} s to resolve {platforms[0]}: is the package "
            "index reachable from here? (`make venv` needs it too)"
        )
    installs = json.loads(report.read_text())["install"] if report.exists() else []
    return result, installs


def resolved(installs: list[dict[str, Any]]) -> dict[str, Version]:
    return {
        canonicalize_name(i["metadata"]["name"]): Version(i["metadata"]["version"])
        for i in installs
    }


def test_the_main_set_holds_nothing_of_the_local_stack() -> None:
    names = [Requirement(r).name.lower() for r in project()["dependencies"]]
    assert not [n for n in names if n.startswith(LOCAL_ONLY)], names


def test_pulumi_install_installs_the_package_with_its_main_set_at_the_locked_versions() -> None:
    """Pulumi runs `pip install -r requirements.txt` in the program directory (stacks/):
    `-e ..` is read from there, `-c ../constraints.txt` relative to the file; both must
    name the repository root, and no extra may be asked for."""
    lines = [
        line.strip()
        for line in PULUMI_INSTALL.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert lines == ["-c ../constraints.txt", "-e .."], lines
    main = yaml.safe_load((REPO / "Pulumi.yaml").read_text(encoding="utf-8")).get("main", ".")
    program_dir = REPO / main
    assert PULUMI_INSTALL.parent == program_dir.resolve()
    assert (program_dir / ".." / "pyproject.toml").resolve() == PYPROJECT
    assert (PULUMI_INSTALL.parent / ".." / "constraints.txt").resolve() == LOCK


@pytest.mark.parametrize(
    "platforms", [MACOS_ARM64, LINUX_MAIN], ids=["macos-arm64", "linux-x86_64-glibc2.28"]
)
def test_the_main_set_installs_from_wheels_at_the_locked_versions(
    platforms: list[str], tmp_path: Path
) -> None:
    result, installs = resolve(project()["dependencies"], platforms, tmp_path)
    assert result.returncode == 0, (
        f"the main dependency set (what `pulumi install` installs) does not resolve for "
        f"{platforms[0]} from wheels at constraints.txt's versions:\n{result.stderr[-3000:]}"
    )
    got = resolved(installs)
    assert "pulumi" in got
    assert "pulumi-policy" in got

    local = sorted(n for n in got if n.startswith(LOCAL_ONLY))
    assert not local, f"the main set pulls in packages of the local stack: {local}"

    pins = lock()
    unlocked = sorted(f"{n}=={v}" for n, v in got.items() if n not in pins)
    assert not unlocked, (
        "constraints.txt does not pin what `pulumi install` would install: "
        f"{unlocked} (run `make lock`)"
    )
    # -c makes pip take the pinned version or fail; this guards the check itself.
    assert {n: v for n, v in got.items() if pins[n] != v} == {}


def test_the_local_extra_is_linux_only(tmp_path: Path) -> None:
    """The contrast: the same resolution with the local extra fails on macOS, because
    nvidia-pytriton publishes no macOS wheel, and succeeds on a glibc 2.35 Linux."""
    requirements = project()["dependencies"] + project()["optional-dependencies"]["local"]

    linux, installs = resolve(requirements, LINUX_LOCAL, tmp_path / "linux")
    assert linux.returncode == 0, (
        f"the main set with the local extra does not resolve on Linux:\n{linux.stderr[-3000:]}"
    )
    assert "nvidia-pytriton" in resolved(installs)

    macos, _ = resolve(requirements, MACOS_ARM64, tmp_path / "macos")
    assert macos.returncode != 0, (
        "nvidia-pytriton resolved on macOS: is the extra still Linux only?"
    )
    assert "nvidia-pytriton" in macos.stderr, macos.stderr[-3000:]
