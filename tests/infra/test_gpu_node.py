"""A real GPU node against its pool's declared spec (opt-in: ``--run-gpu``, marker ``gpu``).

Runs through testinfra on any host it reaches: ``--hosts=local`` on the GPU
machine itself, or ``--hosts='kubectl://<pod>?namespace=<ns>'`` against a node of
a cluster (see tests/infra/node-check-pod.yaml). Read-only: only nvidia-smi
queries run; nothing changes a GPU's settings, MIG included.

    pytest tests/infra --run-gpu --hosts=local --gpu-spec '1 x H200-141GB, MIG disabled'
    pytest tests/infra --run-gpu --hosts=local --gpu-spec prod/heavy-h100
"""

from __future__ import annotations

import json

import pytest

from tests.infra.gpu_spec import (
    Expected,
    Observed,
    check_count,
    check_driver,
    check_memory,
    check_mig,
    check_model,
    summary,
)

pytestmark = pytest.mark.gpu


def test_driver_and_nvidia_smi_present(observed: Observed) -> None:
    print(json.dumps(summary(observed), indent=1))
    assert check_driver(observed) == []


def test_gpu_count(expected: Expected, observed: Observed) -> None:
    assert check_count(expected, observed) == []


def test_gpu_model(expected: Expected, observed: Observed) -> None:
    assert check_model(expected, observed) == []


def test_gpu_memory(expected: Expected, observed: Observed) -> None:
    assert check_memory(expected, observed) == []


def test_mig_mode_as_declared(expected: Expected, observed: Observed) -> None:
    assert check_mig(expected, observed) == []
