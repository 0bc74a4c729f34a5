"""The hardware catalog: NVIDIA's published MIG geometry, and consistent instance rows."""

from __future__ import annotations

import pytest

from blueprint.catalog import load_catalog

# NVIDIA Multi-Instance GPU User Guide, "Supported MIG Profiles": profile ->
# instances per GPU. Written out here on purpose, as the published reference the
# catalog is checked against.
NVIDIA_MIG = {
    "A100-40GB": {
        "1g.5gb": 7,
        "1g.10gb": 4,
        "2g.10gb": 3,
        "3g.20gb": 2,
        "4g.20gb": 1,
        "7g.40gb": 1,
    },
    "A100-80GB": {
        "1g.10gb": 7,
        "1g.20gb": 4,
        "2g.20gb": 3,
        "3g.40gb": 2,
        "4g.40gb": 1,
        "7g.80gb": 1,
    },
    "H100-80GB": {
        "1g.10gb": 7,
        "1g.20gb": 4,
        "2g.20gb": 3,
        "3g.40gb": 2,
        "4g.40gb": 1,
        "7g.80gb": 1,
    },
    "H200-141GB": {
        "1g.18gb": 7,
        "1g.35gb": 4,
        "2g.35gb": 3,
        "3g.71gb": 2,
        "4g.71gb": 1,
        "7g.141gb": 1,
    },
    "B200-180GB": {
        "1g.23gb": 7,
        "1g.45gb": 4,
        "2g.45gb": 3,
        "3g.90gb": 2,
        "4g.90gb": 1,
        "7g.180gb": 1,
    },
}


@pytest.mark.parametrize("gpu", sorted(NVIDIA_MIG))
def test_mig_geometry_matches_nvidia(gpu: str) -> None:
    catalog = load_catalog()
    got = {name: p.instances for name, p in catalog.gpus[gpu].mig.items()}
    assert got == NVIDIA_MIG[gpu]


def test_b200_has_no_2g_40gb() -> None:
    """A published blueprint shipped this profile; it does not exist."""
    assert "2g.40gb" not in load_catalog().gpus["B200-180GB"].mig


@pytest.mark.parametrize("gpu", ["L40S-48GB", "A10G-24GB", "L4-24GB"])
def test_time_slicing_gpus_have_no_mig(gpu: str) -> None:
    assert not load_catalog().gpus[gpu].supports_mig


def test_profile_names_agree_with_their_numbers() -> None:
    """``<slices>g.<memory>gb``: the name and the row must say the same thing."""
    for gpu in load_catalog().gpus.values():
        for name, profile in gpu.mig.items():
            slices, memory = name.split(".")
            assert int(slices[:-1]) == profile.slices, f"{gpu.name} {name}"
            assert int(memory[:-2]) == profile.memory_gb, f"{gpu.name} {name}"
            assert profile.memory_gb <= gpu.memory_gb
            # A profile alone never uses more than the GPU's 7 compute slices.
            assert profile.slices * profile.instances <= 7


def test_instance_rows_are_consistent() -> None:
    catalog = load_catalog()
    assert catalog.instances, "empty catalog"
    for inst in catalog.instances.values():
        if inst.spot is not None:
            assert inst.spot[1] < inst.on_demand, f"{inst.name}: spot above on-demand"
        assert inst.source, f"{inst.name}: a price needs its source"


def test_catalog_carries_its_dates() -> None:
    catalog = load_catalog()
    assert catalog.prices_as_of.startswith("20")
    assert catalog.gpus_as_of.startswith("20")
