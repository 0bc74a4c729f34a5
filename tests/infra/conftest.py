"""Options of the GPU node suite: which spec the node must meet, and how to reach nvidia-smi.

Only the standard library, PyYAML and pytest here: on a bare GPU machine the
suite runs with ``--confcutdir=tests/infra`` so that the blueprint's own
conftest (which needs the whole dependency set) is not loaded.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.infra.gpu_spec import Expected, Observed, SpecError, observe, parse_spec


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gpu node", "checks of a real GPU node against its declared spec")
    group.addoption(
        "--gpu-spec",
        default=os.environ.get("GPU_SPEC"),
        help="what the node must be: '<n> x <GPU model>[, MIG disabled|<profile>]', an "
        "instance type, or '<stack>/<pool>' (env GPU_SPEC)",
    )
    group.addoption(
        "--nvidia-smi",
        default=os.environ.get("NVIDIA_SMI", "nvidia-smi"),
        help="how to call nvidia-smi on the host, e.g. 'chroot /host nvidia-smi' in the "
        "node-check pod (env NVIDIA_SMI)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # testinfra reads a bare "local" as an ssh host name; on the GPU machine itself
    # "--hosts=local" means this machine, as "local://" does.
    hosts = getattr(config.option, "hosts", None)
    if hosts is not None:
        config.option.hosts = ",".join(
            "local://" if h.strip() == "local" else h for h in hosts.split(",")
        )


@pytest.fixture(scope="module")
def expected(request: pytest.FixtureRequest) -> Expected:
    text = request.config.getoption("--gpu-spec")
    if not text:
        pytest.fail("name what the node must be with --gpu-spec (or GPU_SPEC)")
    try:
        return parse_spec(text)
    except SpecError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def observed(request: pytest.FixtureRequest, host: Any) -> Observed:
    """nvidia-smi's answers on the testinfra host (local, ssh, or a pod through kubectl)."""

    def run(command: str) -> tuple[int, str]:
        result = host.run(command)
        return result.rc, result.stdout + result.stderr

    try:
        return observe(run, request.config.getoption("--nvidia-smi"))
    except RuntimeError as exc:
        pytest.fail(str(exc))
