"""The hardware catalog: GPU models with their MIG geometry, and instance types
with their GPUs and prices; and the EKS managed add-on versions per Kubernetes minor.

The data lives in ``gpus.yaml``, ``instances.yaml`` and ``eks_addons.yaml`` beside
this module, each with its sources and date. This module only loads and checks them; every other
part of the blueprint asks the catalog instead of restating a fact.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

_HERE = Path(__file__).parent


class _Fact(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class MigProfile(_Fact):
    """One MIG profile of one GPU model, e.g. ``3g.40gb`` on an H100 80GB."""

    name: str = ""
    instances: int = Field(ge=1, le=7, description="instances per GPU with this profile alone")
    slices: int = Field(ge=1, le=7, description="compute slices (of 7) one instance uses")
    memory_gb: int = Field(gt=0)


class GpuModel(_Fact):
    name: str = ""
    product: str = Field(description="the product name nvidia-smi reports")
    memory_gb: int = Field(gt=0)
    pci_device_ids: tuple[str, ...] = Field(
        default=(), description="PCI device IDs as 0x<device><vendor>, for mig-parted filters"
    )
    gke_accelerator: str | None = Field(default=None, description="GKE accelerator type")
    mig: dict[str, MigProfile] = Field(default_factory=dict)

    @property
    def supports_mig(self) -> bool:
        return bool(self.mig)


class InstanceType(_Fact):
    name: str = ""
    cloud: Literal["aws", "gcp"]
    gpu: str | None
    gpus: int = Field(ge=0)
    vcpus: int = Field(gt=0)
    memory_gib: int = Field(gt=0)
    on_demand: float = Field(gt=0, description="USD per hour, on-demand")
    spot: tuple[float, float] | None = Field(description="USD per hour, spot range seen")
    source: str

    @model_validator(mode="after")
    def _gpu_count_matches(self) -> InstanceType:
        if (self.gpu is None) != (self.gpus == 0):
            raise ValueError("gpu and gpus must both be set (GPU type) or both empty (CPU type)")
        if self.spot is not None and self.spot[0] > self.spot[1]:
            raise ValueError(f"spot range {self.spot} is reversed")
        return self

    @property
    def spot_high(self) -> float | None:
        """The high end of the spot range seen; what cost estimates use."""
        return None if self.spot is None else self.spot[1]


class Catalog(_Fact):
    gpus_as_of: str
    prices_as_of: str
    gpus: dict[str, GpuModel]
    instances: dict[str, InstanceType]

    @model_validator(mode="after")
    def _references_resolve(self) -> Catalog:
        for inst in self.instances.values():
            if inst.gpu is not None and inst.gpu not in self.gpus:
                raise ValueError(f"instance {inst.name}: unknown GPU model {inst.gpu!r}")
        return self

    def instance(self, name: str) -> InstanceType | None:
        return self.instances.get(name)

    def gpu_of(self, instance_type: str) -> GpuModel | None:
        inst = self.instances.get(instance_type)
        return None if inst is None or inst.gpu is None else self.gpus[inst.gpu]

    def instance_names(self, cloud: str) -> list[str]:
        return sorted(n for n, i in self.instances.items() if i.cloud == cloud)


def _named(table: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    return {name: {**row, "name": name} for name, row in table.items()}


@cache
def load_catalog() -> Catalog:
    """Load and check the catalog once per process."""
    gpus_doc = yaml.safe_load((_HERE / "gpus.yaml").read_text())
    inst_doc = yaml.safe_load((_HERE / "instances.yaml").read_text())
    gpus = {}
    for name, row in gpus_doc["gpus"].items():
        gpus[name] = {**row, "name": name, "mig": _named(row.get("mig") or {})}
    return Catalog.model_validate(
        {
            "gpus_as_of": gpus_doc["asOf"],
            "prices_as_of": inst_doc["asOf"],
            "gpus": gpus,
            "instances": _named(inst_doc["instances"]),
        }
    )


EKS_ADDONS = (
    "vpc-cni",
    "kube-proxy",
    "coredns",
    "aws-ebs-csi-driver",
    "eks-pod-identity-agent",
)
"""The EKS managed add-ons every EKS cluster of the blueprint runs, in install order."""
_ADDON_VERSION = re.compile(r"v\d+\.\d+\.\d+-eksbuild\.\d+")
_MINOR = re.compile(r"1\.\d+")


class EksAddonTable(_Fact):
    """``eks_addons.yaml``: add-on name -> pinned version, per Kubernetes minor."""

    as_of: str
    addons: dict[str, dict[str, str]]

    @model_validator(mode="after")
    def _rows_complete(self) -> EksAddonTable:
        for minor, row in self.addons.items():
            if not _MINOR.fullmatch(minor):
                raise ValueError(f"eks_addons.yaml: {minor!r} is not a Kubernetes minor")
            if set(row) != set(EKS_ADDONS):
                raise ValueError(
                    f"eks_addons.yaml: {minor} must pin exactly {', '.join(EKS_ADDONS)}"
                )
            for name, version in row.items():
                if not _ADDON_VERSION.fullmatch(version):
                    raise ValueError(
                        f"eks_addons.yaml: {minor}.{name} = {version!r} is not an add-on "
                        "version such as v1.20.1-eksbuild.3"
                    )
        return self

    def versions(self) -> list[str]:
        """The Kubernetes minors with a row, oldest first."""
        return sorted(self.addons, key=lambda v: tuple(int(p) for p in v.split(".")))

    def for_version(self, kubernetes_version: str) -> dict[str, str] | None:
        """The pinned add-on versions of a control plane at ``kubernetes_version``."""
        row = self.addons.get(kubernetes_version)
        return None if row is None else {name: row[name] for name in EKS_ADDONS}


@cache
def eks_addons() -> EksAddonTable:
    """Load and check the EKS add-on table once per process."""
    doc = yaml.safe_load((_HERE / "eks_addons.yaml").read_text())
    return EksAddonTable.model_validate(doc)
