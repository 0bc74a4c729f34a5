"""Stack files are read strictly and boundedly: each kind of bad text is refused with its
line, exit status 2, nothing registered and no traceback (blueprint/config/yamlsafe.py)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from blueprint.config import ConfigError, load_stack_file
from tests.conftest import REPO

BASE = (REPO / "stacks" / "Pulumi.dev.yaml").read_text()
BOMB = "config:\n" + "".join(
    f"  {k}: &{k} [{', '.join([f'*{p}'] * 9 if p else ['x'] * 9)}]\n"
    for k, p in zip("abcdefg", ["", "a", "b", "c", "d", "e", "f"], strict=True)
)

CASES: dict[str, tuple[bytes, str]] = {
    "not-utf8": (BASE.encode() + b"\n# \xff\xfe\n", "is not UTF-8 text: byte 0xff"),
    "deep": (
        ("config:\n  llm-inference:team: " + "[" * 5000 + "]" * 5000).encode(),
        "is nested too deeply",
    ),
    "set-tag": (
        BASE.replace("llm-inference:team: ", "llm-inference:team: !!set {a, b} #").encode(),
        "uses the tag 'tag:yaml.org,2002:set'",
    ),
    "duplicate-key": (
        BASE.replace("config:\n", "config:\n  llm-inference:team: x\n", 1).encode(),
        "appears twice in one mapping",
    ),
    "namespace-typo": (
        BASE.replace("llm-inference:budget:", "llm-inferance:budget:").encode(),
        "unknown namespace 'llm-inferance'; did you mean llm-inference?",
    ),
    "alias-bomb": (BOMB.encode(), "expands to more than 100,000 values"),
    "infinite-budget": (
        BASE.replace("monthlyUsd: ", "monthlyUsd: .inf #").encode(),
        "must be a finite number",
    ),
    "bool-cidr": (
        BASE.replace("vpcCidr: 10", "vpcCidr: true #10").encode(),
        "aws.vpcCidr: must be an IPv4 network in CIDR form",
    ),
    "bool-count": (
        BASE.replace("min: 0, max: 1}", "min: true, max: 1}", 1).encode(),
        "must be a whole number (got True)",
    ),
    "zone-twice": (
        BASE.replace("[us-east-1a, us-east-1b]", "[us-east-1a, us-east-1a]").encode(),
        "lists us-east-1a more than once",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_text_is_refused_with_its_reason(case: str, tmp_path: Path) -> None:
    data, reason = CASES[case]
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_bytes(data)
    start = time.monotonic()
    with pytest.raises(ConfigError) as info:
        load_stack_file(path)
    assert reason in str(info.value), str(info.value)
    # Bounded: refused at once, not after expanding (the bomb took 18 s and 1.5 GB once).
    assert time.monotonic() - start < 30


def test_the_preview_exits_2_without_a_traceback(tmp_path: Path) -> None:
    for case in ("not-utf8", "alias-bomb", "duplicate-key"):
        folder = tmp_path / case
        folder.mkdir()
        (folder / "Pulumi.dev.yaml").write_bytes(CASES[case][0])
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "tools.preview",
                "dev",
                "--stack-dir",
                str(folder),
                "--out",
                str(tmp_path / "plan"),
                "--quiet",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert proc.returncode == 2, (case, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stdout + proc.stderr
        assert not (tmp_path / "plan" / "dev.json").exists()  # nothing half-created
