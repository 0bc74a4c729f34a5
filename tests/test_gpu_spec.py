"""The GPU node checks, against recorded nvidia-smi answers (no GPU needed).

The same checks run on a real node through ``tests/infra`` (opt-in, ``--run-gpu``)
and through ``scripts/gpu-node-check.sh``; here they meet answers whose truth is
known, including ones that must fail.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.infra.gpu_spec import (
    CHECKS,
    Expected,
    SpecError,
    observe,
    parse_spec,
    read_only,
)

H200_QUERY = "0, NVIDIA H200, 143771, 580.159.03, Disabled\n"
H200_LIST = "GPU 0: NVIDIA H200 (UUID: GPU-5d1c0f0e-0000-0000-0000-000000000000)\n"
H100_MIG_QUERY = "".join(
    f"{i}, NVIDIA H100 80GB HBM3, 81559, 580.159.04, Enabled\n" for i in range(2)
)
H100_MIG_LIST = "".join(
    f"GPU {i}: NVIDIA H100 80GB HBM3 (UUID: GPU-{i})\n"
    f"  MIG 3g.40gb     Device  0: (UUID: MIG-{i}a)\n"
    f"  MIG 3g.40gb     Device  1: (UUID: MIG-{i}b)\n"
    for i in range(2)
)


def fake(query: str, listing: str):  # type: ignore[no-untyped-def]
    def run(command: str) -> tuple[int, str]:
        if command.endswith("--version"):
            return 0, "NVIDIA-SMI version  : 580.159.03\n"
        if command.endswith("-L"):
            return 0, listing
        return 0, query

    return run


def problems(expected: Expected, query: str, listing: str) -> dict[str, list[str]]:
    seen = observe(fake(query, listing))
    return {name: check(expected, seen) for name, check in CHECKS.items()}


def test_the_lent_h200_spec_is_accepted_and_matches_an_h200() -> None:
    expected = parse_spec("1 x H200-141GB, MIG disabled")
    assert expected.gpu_model == "H200-141GB"
    assert expected.counts == {1}
    assert expected.mig is None
    assert all(p == [] for p in problems(expected, H200_QUERY, H200_LIST).values())


def test_instance_type_spec_takes_gpus_from_the_catalog() -> None:
    expected = parse_spec("p5en.48xlarge")
    assert (expected.gpu_model, expected.counts, expected.mig) == ("H200-141GB", {8}, None)
    found = problems(expected, H200_QUERY, H200_LIST)
    assert found["GPU count"] == ["1 GPUs, expected 8 (p5en.48xlarge)"]


def test_pool_spec_takes_counts_and_mig_from_the_stack() -> None:
    expected = parse_spec("prod/heavy-h100")
    assert expected.gpu_model == "H100-80GB"
    assert expected.counts == {8, 1}
    assert expected.mig == {"3g.40gb": 2}
    found = problems(expected, H100_MIG_QUERY, H100_MIG_LIST)
    assert found["GPU count"] == ["2 GPUs, expected 1 or 8 (prod/heavy-h100)"]
    assert found["MIG mode and layout"] == []
    assert found["GPU model"] == []


def test_a_node_with_mig_off_fails_a_mig_pool() -> None:
    expected = parse_spec("1 x H100-80GB, MIG 3g.40gb")
    found = problems(
        expected, "0, NVIDIA H100 80GB HBM3, 81559, 580.1, Disabled\n", "GPU 0: NVIDIA H100\n"
    )
    assert found["MIG mode and layout"] == [
        "GPU 0: MIG mode 'Disabled', MIG devices []; declared: ['3g.40gb', '3g.40gb']"
    ]


def test_a_wrong_gpu_and_wrong_memory_are_named() -> None:
    expected = parse_spec("1 x H200-141GB, MIG disabled")
    found = problems(expected, "0, NVIDIA H100 80GB HBM3, 81559, 580.1, Disabled\n", "")
    assert found["GPU model"] == [
        "GPU 0 is 'NVIDIA H100 80GB HBM3', expected 'NVIDIA H200' (H200-141GB)"
    ]
    assert found["GPU memory"][0].startswith("GPU 0: 81559 MiB (79.6 GiB), expected about 141 GB")


def test_mig_left_on_fails_a_spec_that_declares_it_off() -> None:
    found = problems(parse_spec("2 x H100-80GB"), H100_MIG_QUERY, H100_MIG_LIST)
    assert len(found["MIG mode and layout"]) == 2


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("1 x H300-200GB", "unknown GPU model 'H300-200GB'"),
        ("1 x L4-24GB, MIG 1g.10gb", "L4-24GB has no MIG profile '1g.10gb'"),
        ("prod/heavy-h300", "stack prod has no GPU pool 'heavy-h300'"),
        ("qa/heavy-h100", "no stack 'qa'"),
        ("m7i.xlarge", "instance type m7i.xlarge has no GPU"),
        ("an H200 please", "is not understood"),
    ],
)
def test_bad_specs_say_what_is_accepted(spec: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(spec)


@pytest.mark.parametrize(
    "args", [("-mig", "1"), ("-i", "0", "-mig", "0"), ("mig", "-cgi", "9"), ("-r",), ("-pm", "1")]
)
def test_only_read_only_nvidia_smi_queries_are_allowed(args: tuple[str, ...]) -> None:
    with pytest.raises(PermissionError, match="read-only"):
        read_only("nvidia-smi", *args)


def _fake_smi(tmp_path: Path, query: str, listing: str) -> Path:
    script = tmp_path / "nvidia-smi"
    script.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        "  --version) echo 'NVIDIA-SMI version  : 580.159.03' ;;\n"
        f"  -L) printf '%s' '{listing}' ;;\n"
        f"  --query-gpu=*) printf '%s' '{query}' ;;\n"
        "  *) echo refused >&2; exit 9 ;;\n"
        "esac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_plain_python_fallback_runs_the_checks_end_to_end(tmp_path: Path) -> None:
    smi = _fake_smi(tmp_path, H200_QUERY, H200_LIST)
    proc = subprocess.run(
        [sys.executable, "-m", "tests.infra.gpu_spec", "--gpu-spec", "1 x H200-141GB, MIG disabled",
         "--nvidia-smi", str(smi)],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5 passed, 0 failed" in proc.stdout


def test_plain_python_fallback_fails_on_a_mismatch(tmp_path: Path) -> None:
    smi = _fake_smi(tmp_path, H200_QUERY, H200_LIST)
    proc = subprocess.run(
        [sys.executable, "-m", "tests.infra.gpu_spec", "--gpu-spec", "p5en.48xlarge",
         "--nvidia-smi", str(smi)],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "FAIL GPU count" in proc.stdout


def test_testinfra_suite_runs_locally_against_a_fake_nvidia_smi(tmp_path: Path) -> None:
    """The opt-in suite itself, with testinfra's local backend, as the lead runs it."""
    smi = _fake_smi(tmp_path, H200_QUERY, H200_LIST)
    env = {**os.environ, "GPU_SPEC": "1 x H200-141GB, MIG disabled", "NVIDIA_SMI": str(smi)}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/infra", "--confcutdir=tests/infra",
         "--hosts=local", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=REPO, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5 passed" in proc.stdout
