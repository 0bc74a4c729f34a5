"""Customer-managed encryption keys (CMEK) on Cloud KMS, the one way the GCP components make them.

A key ring and a 90-day-rotated ``ENCRYPT_DECRYPT`` key in the region of the data it
protects, and the one grant the Google service that uses it needs
(``roles/cloudkms.cryptoKeyEncrypterDecrypter`` for that service's agent). GKE
(Kubernetes Secrets), the model store (GCS) and Vertex AI (endpoints and models)
each call :func:`cmek_key` from their own component, so the resources stay their
children and keep their names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import pulumi
import pulumi_gcp as gcp

KEY_ROTATION: Final = "7776000s"
"""90 days: Cloud KMS makes a new primary version this often; old versions still decrypt."""
ENCRYPTER_DECRYPTER: Final = "roles/cloudkms.cryptoKeyEncrypterDecrypter"

GKE_AGENT: Final = "container-engine-robot.iam.gserviceaccount.com"
GCS_AGENT: Final = "gs-project-accounts.iam.gserviceaccount.com"
VERTEX_AGENT: Final = "gcp-sa-aiplatform.iam.gserviceaccount.com"


def service_agent(
    project: str, domain: str, opts: pulumi.InvokeOutputOptions | None = None
) -> pulumi.Output[str]:
    """The IAM member of a Google service's agent in ``project`` (named by project number)."""
    found = gcp.organizations.get_project_output(project_id=project, opts=opts)
    return found.number.apply(lambda n: f"serviceAccount:service-{n}@{domain}")


@dataclass(frozen=True, kw_only=True)
class CmekNames:
    """The Pulumi resource names (URNs) and the cloud names of one key's resources."""

    ring_resource: str
    ring: str
    key_resource: str
    key: str
    grant_resource: str


@dataclass(frozen=True, kw_only=True)
class CmekKey:
    key: gcp.kms.CryptoKey
    grant: gcp.kms.CryptoKeyIAMMember


@dataclass(frozen=True, kw_only=True)
class CmekArgs:
    project: str
    location: str
    """The region of the data the key protects (GKE, GCS and Vertex require it to match)."""
    agent: pulumi.Input[str]
    """The IAM member that encrypts and decrypts with the key (the service's agent)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    protect: bool = False
    """Protect the key from deletion: destroying it makes what it encrypted unreadable."""


def cmek_key(names: CmekNames, args: CmekArgs, parent: pulumi.Resource) -> CmekKey:
    """A key ring, a rotated key and the service agent's grant, children of ``parent``."""
    child = pulumi.ResourceOptions(parent=parent)
    ring = gcp.kms.KeyRing(
        names.ring_resource,
        name=names.ring,
        location=args.location,
        project=args.project,
        opts=child,
    )
    key = gcp.kms.CryptoKey(
        names.key_resource,
        name=names.key,
        key_ring=ring.id,
        rotation_period=KEY_ROTATION,
        purpose="ENCRYPT_DECRYPT",
        labels=dict(args.labels) or None,
        opts=pulumi.ResourceOptions(parent=parent, protect=args.protect),
    )
    grant = gcp.kms.CryptoKeyIAMMember(
        names.grant_resource,
        crypto_key_id=key.id,
        role=ENCRYPTER_DECRYPTER,
        member=args.agent,
        opts=child,
    )
    return CmekKey(key=key, grant=grant)
