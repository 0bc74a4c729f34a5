"""Section 4, serverless: SageMaker Serverless and Vertex AI endpoints of ``serverless``.

The model stores publish each endpoint's artifact at its content-addressed key
(:func:`blueprint.modelrepo.snapshot.artifact_key`); an endpoint's model waits for
its upload and, on AWS, may decrypt it with the store's key. Vertex's Private
Service Connect endpoints take addresses in the stack's VPC.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from blueprint import tags
from blueprint.modelrepo.pins import model_pins
from blueprint.modelrepo.snapshot import artifact_key
from blueprint.network import gcp_network_project
from blueprint.schema import GcpSettings
from components.aws.model_store import AwsModelStore
from components.aws.sagemaker import (
    ModelArtifact,
    Peak,
    SageMakerServerless,
    SageMakerServerlessArgs,
)
from components.gcp.model_store import GcpModelStore
from components.gcp.vertex import DriftArgs, GcsArtifact, VertexEndpoint, VertexEndpointArgs
from composition.context import StackContext
from composition.foundation import Foundation
from composition.serving import ModelStores


@dataclass
class Serverless:
    sagemaker: dict[str, SageMakerServerless] = field(default_factory=dict)
    vertex: dict[str, VertexEndpoint] = field(default_factory=dict)


def build(ctx: StackContext, base: Foundation, stores: ModelStores) -> Serverless:
    cfg = ctx.config
    result = Serverless()
    emails = list(cfg.monitoring.alert_emails) if cfg.monitoring else []
    runbooks = cfg.monitoring.runbook_base_url if cfg.monitoring else ""
    for name, ep in sorted(cfg.serverless.items()):
        digest = model_pins([ep.repo_model])[ep.repo_model]["digest"]
        if ep.sagemaker is not None and base.aws is not None:
            sm = ep.sagemaker
            result.sagemaker[name] = SageMakerServerless(
                ctx.name(name),
                SageMakerServerlessArgs(
                    endpoint_name=ctx.name(name),
                    image=ep.image,
                    repo_model=ep.repo_model,
                    artifact=_sagemaker_artifact(
                        ctx.model_bucket,
                        artifact_key(ep.repo_model, digest, "sagemaker") + "/model.tar.gz",
                        stores.aws,
                    ),
                    # The model store's key: the artifacts are already under it.
                    kms_key_arn=stores.aws.kms_key_arn if stores.aws is not None else None,
                    memory_mb=sm.memory_mb,
                    max_concurrency=sm.max_concurrency,
                    provisioned_concurrency=sm.provisioned_concurrency,
                    peaks={
                        p: Peak(
                            start=peak.start,
                            end=peak.end,
                            provisioned_concurrency=peak.provisioned_concurrency,
                            timezone=peak.timezone,
                        )
                        for p, peak in sm.peaks.items()
                    },
                    log_retention_days=ctx.log_retention_days,
                    alert_emails=emails,
                    runbook_base_url=runbooks,
                    cold_start_alarm_seconds=sm.cold_start_alarm_seconds,
                    tags={tags.TENANT: ep.tenant},
                ),
                opts=pulumi.ResourceOptions(provider=base.aws.provider),
            )
        if ep.vertex is not None and base.gcp is not None and cfg.gcp is not None:
            vx = ep.vertex
            result.vertex[name] = VertexEndpoint(
                ctx.name(name),
                VertexEndpointArgs(
                    project=cfg.gcp.project,
                    region=cfg.gcp.region,
                    image=ep.image,
                    repo_model=ep.repo_model,
                    artifact=_vertex_artifact(
                        ctx.model_bucket, artifact_key(ep.repo_model, digest, "vertex"), stores.gcp
                    ),
                    machine_type=vx.machine_type,
                    min_replicas=vx.replicas.min,
                    max_replicas=vx.replicas.max,
                    scale_to_zero=vx.scale_to_zero,
                    target_cpu_percent=vx.target_cpu_percent,
                    network=base.gcp.network.network_id,
                    subnetwork=base.gcp.network.subnet_id,
                    network_project=_network_project(cfg.gcp),
                    drift=DriftArgs(
                        thresholds=dict(vx.drift.features),
                        sample_rate=vx.drift.sample_rate,
                        interval_hours=vx.drift.interval_hours,
                    )
                    if vx.drift
                    else None,
                    alert_emails=emails,
                    runbook_base_url=runbooks,
                    labels={**ctx.base_tags, tags.TENANT: ep.tenant},
                ),
                opts=pulumi.ResourceOptions(provider=base.gcp.provider),
            )
    return result


def _sagemaker_artifact(bucket: str, key: str, store: AwsModelStore | None) -> ModelArtifact:
    upload = store.artifact_objects.get(key) if store is not None else None
    return ModelArtifact(
        bucket=bucket,
        key=key,
        kms_key_arn=store.kms_key_arn if store is not None else None,
        uploads=[upload] if upload is not None else [],
    )


def _vertex_artifact(bucket: str, prefix: str, store: GcpModelStore | None) -> GcsArtifact:
    uploads = store.root_objects.get(prefix, []) if store is not None else []
    return GcsArtifact(bucket=bucket, prefix=prefix, uploads=list(uploads))


def _network_project(gcp: GcpSettings) -> str | None:
    """The host project of an existing Shared VPC network; None for the stack's own."""
    existing = gcp.existing_network
    if existing is None:
        return None
    host = gcp_network_project(existing.network, gcp.project)
    return host if host != gcp.project else None
