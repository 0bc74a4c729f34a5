"""Section 3, models and serving: the model stores and Triton on the clusters.

One content-addressed copy of ``model_repo/`` per cloud that serves repository
models (:mod:`blueprint.modelrepo.snapshot`); each Triton deployment's service
account reads it without keys (an IRSA role per deployment on EKS, Workload
Identity on GKE). Then a Triton Deployment per model deployment, on its cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from blueprint.modelrepo.pins import model_pin
from blueprint.modelrepo.repo import facts as model_facts
from blueprint.modelrepo.snapshot import artifact_key, build_tarball, snapshot
from blueprint.paths import ARTIFACT_DIR
from blueprint.schema import Cloud, StackConfig
from components.aws.model_store import AwsModelStore, AwsModelStoreArgs
from components.gcp.model_store import GcpModelStore, GcpModelStoreArgs
from components.k8s.handle import ClusterHandle
from components.k8s.triton import (
    ServingNamespace,
    ServingNamespaceArgs,
    Toleration,
    TritonServing,
    TritonServingArgs,
    queue_time_target_us,
)
from composition.context import StackContext
from composition.foundation import Foundation

SERVING_NAMESPACE = "llm-serving"
"""Namespace of the Triton Deployments; their Service is named after the deployment."""


@dataclass(frozen=True)
class ModelStores:
    aws: AwsModelStore | None
    gcp: GcpModelStore | None


def repo_models_on(cfg: StackConfig, cloud: Cloud) -> list[str]:
    """Repository models this stack serves on one cloud (deployments and serverless)."""
    models = {
        m
        for d in cfg.models.values()
        if (c := cfg.clusters.get(d.cluster)) is not None and c.cloud is cloud
        for m in d.repo_models
    }
    models |= {e.repo_model for e in cfg.serverless.values() if e.cloud is cloud}
    return sorted(models)


def _deployments_on(cfg: StackConfig, cloud: Cloud) -> list[str]:
    return [
        name
        for name, d in cfg.models.items()
        if (c := cfg.clusters.get(d.cluster)) is not None and c.cloud is cloud
    ]


def build_model_stores(
    ctx: StackContext, base: Foundation, clusters: Mapping[str, ClusterHandle]
) -> ModelStores:
    cfg = ctx.config
    aws_store = gcp_store = None
    aws_models = repo_models_on(cfg, Cloud.AWS)
    if base.aws is not None and aws_models:
        readers = {
            name: clusters[cfg.models[name].cluster].irsa_assume_role_policy(
                SERVING_NAMESPACE, name
            )
            for name in _deployments_on(cfg, Cloud.AWS)
            if cfg.models[name].cluster in clusters
        }
        # SageMaker's Triton takes the model as one tarball, at the key its endpoint
        # names (composition/serverless.py). It is built here, before any resource
        # names it, reproducibly and named by content, so an unchanged model is the
        # same object on every run.
        artifacts = {
            artifact_key(ep.repo_model, model_pin(ep.repo_model)["digest"], "sagemaker")
            + "/model.tar.gz": str(build_tarball([ep.repo_model], ARTIFACT_DIR))
            for ep in cfg.serverless.values()
            if ep.sagemaker is not None and ep.cloud is Cloud.AWS
        }
        aws_store = AwsModelStore(
            ctx.name("models", "aws"),
            AwsModelStoreArgs(
                bucket_name=ctx.model_bucket,
                snapshot=snapshot(aws_models),
                readers=readers,
                artifacts=artifacts,
            ),
            opts=pulumi.ResourceOptions(provider=base.aws.provider),
        )
    gcp_models = repo_models_on(cfg, Cloud.GCP)
    if base.gcp is not None and cfg.gcp is not None and gcp_models:
        gcp_store = GcpModelStore(
            ctx.name("models", "gcp"),
            GcpModelStoreArgs(
                project=cfg.gcp.project,
                location=cfg.gcp.region,
                bucket_name=ctx.model_bucket,
                snapshot=snapshot(gcp_models),
                # A Vertex AI endpoint reads a repository root at the prefix it names.
                extra_roots={
                    artifact_key(ep.repo_model, model_pin(ep.repo_model)["digest"], "vertex"): (
                        snapshot([ep.repo_model])
                    )
                    for ep in cfg.serverless.values()
                    if ep.vertex is not None and ep.cloud is Cloud.GCP
                },
                reader_service_accounts=[
                    f"{SERVING_NAMESPACE}/{name}" for name in _deployments_on(cfg, Cloud.GCP)
                ],
                labels=dict(ctx.base_tags),
            ),
            opts=pulumi.ResourceOptions(provider=base.gcp.provider),
        )
    return ModelStores(aws=aws_store, gcp=gcp_store)


def _queue_target_us(models: list[str], variant: str | None) -> int:
    budgets = [
        b for m in models if (b := model_facts(m, variant=variant).latency_budget_ms) is not None
    ]
    return queue_time_target_us(min(budgets)) if budgets else 20_000


def build_serving(
    ctx: StackContext, clusters: Mapping[str, ClusterHandle], stores: ModelStores
) -> dict[str, TritonServing]:
    """Triton for every model deployment, on its cluster, reading its cloud's store."""
    cfg = ctx.config
    served: dict[str, TritonServing] = {}
    namespaces: dict[str, ServingNamespace] = {}
    for name, d in cfg.models.items():
        handle = clusters.get(d.cluster)
        if handle is None:
            continue
        store = stores.aws if handle.cloud == "aws" else stores.gcp
        if store is None:
            continue
        k8s_opts = pulumi.ResourceOptions(provider=handle.provider)
        after_capacity = pulumi.ResourceOptions.merge(
            k8s_opts, pulumi.ResourceOptions(depends_on=list(handle.depends_on))
        )
        if d.cluster not in namespaces:
            namespaces[d.cluster] = ServingNamespace(
                ctx.name(d.cluster, SERVING_NAMESPACE),
                ServingNamespaceArgs(name=SERVING_NAMESPACE),
                opts=after_capacity,
            )
        if isinstance(store, AwsModelStore):
            annotations = {"eks.amazonaws.com/role-arn": store.reader_role_arns[name]}
            env = {"AWS_DEFAULT_REGION": handle.region, "AWS_REGION": handle.region}
        else:
            annotations = {"iam.gke.io/gcp-service-account": store.reader_email}
            env = {}
        served[name] = TritonServing(
            ctx.name(name),
            TritonServingArgs(
                namespace=namespaces[d.cluster].name,
                image=d.image or (cfg.serving.triton_image if cfg.serving else ""),
                models=list(d.repo_models),
                variant=d.variant,
                repository_uri=store.repository_uri,
                tenant=d.tenant,
                replicas_min=d.replicas.min,
                replicas_max=d.replicas.max,
                requests={k: str(v) for k, v in d.resources.requests.items()},
                limits={k: str(v) for k, v in d.resources.limits.items()},
                node_selector=dict(d.node_selector),
                tolerations=[
                    Toleration(key=t.key, operator=t.operator, value=t.value, effect=t.effect)
                    for t in d.tolerations
                ],
                queue_time_target_us=_queue_target_us(list(d.repo_models), d.variant),
                service_account_annotations=annotations,
                env=env,
                k8s_name=name,
            ),
            opts=after_capacity,
        )
    return served
