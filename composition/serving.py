"""Section 3, models and serving: the model stores, Triton and the LLM tier on the clusters.

One content-addressed copy of ``model_repo/``'s Triton models per cloud that serves
them (:mod:`blueprint.modelrepo.snapshot`), and the LLM weights under ``llm-weights/``
of the same bucket; each deployment's service account reads what it serves without
keys (an IRSA role per deployment on EKS, Workload Identity on GKE). Then, per model
deployment on its cluster: Triton for Triton models, vLLM's OpenAI-compatible server
for an LLM (``model_repo/<model>/llm.yaml``), which copies its weights from the
bucket at start. Hub-hosted weights reach the bucket only through the opt-in import
(``serving.hubImport``), never at pod start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import pulumi

from blueprint.modelrepo.llm import (
    HubWeights,
    LlmManifest,
    PackageWeights,
    converted_files,
    engine_env,
    is_llm,
    load_llm,
    server_args,
)
from blueprint.modelrepo.pins import model_pin
from blueprint.modelrepo.repo import facts as model_facts
from blueprint.modelrepo.snapshot import artifact_key, build_tarball, snapshot
from blueprint.paths import ARTIFACT_DIR
from blueprint.schema import NAMESPACE, Cloud, ModelDeployment, StackConfig
from components.aws.model_store import (
    AwsModelStore,
    AwsModelStoreArgs,
    WeightsAccess,
    WeightsFile,
)
from components.gcp.model_store import GcpModelStore, GcpModelStoreArgs
from components.k8s.handle import ClusterHandle
from components.k8s.llm import (
    MODEL_DIR,
    HubWeightsImport,
    HubWeightsImportArgs,
    LlmServing,
    LlmServingArgs,
    WeightsCopy,
    waiting_target,
)
from components.k8s.monitoring import prometheus_peer
from components.k8s.routing import gateway_peer
from components.k8s.triton import TYPE as TRITON_TYPE
from components.k8s.triton import (
    ServingNamespace,
    ServingNamespaceArgs,
    Toleration,
    TritonServing,
    TritonServingArgs,
    queue_time_target_us,
)
from composition.context import StackContext, required, secret
from composition.foundation import Foundation
from composition.monitoring import NAMESPACE as MONITORING_NAMESPACE

SERVING_NAMESPACE = "llm-serving"
ROUTING_NAMESPACE = "llm-gateway"
"""Namespace of the Triton Deployments; their Service is named after the deployment."""


@dataclass(frozen=True)
class ModelStores:
    aws: AwsModelStore | None
    gcp: GcpModelStore | None


@dataclass(frozen=True)
class LlmUse:
    """What one LLM deployment serves: the manifest, the variant and its weights."""

    model: str
    manifest: LlmManifest
    variant: str
    weights: HubWeights | PackageWeights

    @classmethod
    def of(cls, deployment: ModelDeployment) -> LlmUse | None:
        model = next((m for m in deployment.repo_models if is_llm(m)), None)
        if model is None:
            return None
        manifest = load_llm(model)
        variant = deployment.variant or manifest.default_variant
        return cls(model, manifest, variant, manifest.weights(variant))

    @property
    def import_name(self) -> str:
        """The hub import of these weights: one per model version, shared by deployments."""
        return f"{self.model.replace('_', '-')}-v{self.manifest.variant(self.variant).version}"


def repo_models_on(cfg: StackConfig, cloud: Cloud) -> list[str]:
    """Triton models this stack serves on one cloud (deployments and serverless)."""
    models = {
        m
        for d in cfg.models.values()
        if (c := cfg.clusters.get(d.cluster)) is not None and c.cloud is cloud
        for m in d.repo_models
        if not is_llm(m)
    }
    models |= {e.repo_model for e in cfg.serverless.values() if e.cloud is cloud}
    return sorted(models)


def _deployments_on(cfg: StackConfig, cloud: Cloud, *, llm: bool) -> list[str]:
    return [
        name
        for name, d in cfg.models.items()
        if (c := cfg.clusters.get(d.cluster)) is not None
        and c.cloud is cloud
        and (LlmUse.of(d) is not None) is llm
    ]


def _hub_imports(
    cfg: StackConfig, cloud: Cloud, clusters: Mapping[str, ClusterHandle]
) -> dict[str, tuple[LlmUse, ClusterHandle]]:
    """The opt-in imports a cloud needs: each hub-hosted version once, on the first
    cluster that serves it."""
    if cfg.serving is None or not cfg.serving.hub_import.enabled:
        return {}
    out: dict[str, tuple[LlmUse, ClusterHandle]] = {}
    for name in _deployments_on(cfg, cloud, llm=True):
        use = LlmUse.of(cfg.models[name])
        handle = clusters.get(cfg.models[name].cluster)
        if use is not None and handle is not None and isinstance(use.weights, HubWeights):
            out.setdefault(use.import_name, (use, handle))
    return out


def _weights_files(cfg: StackConfig, cloud: Cloud) -> dict[str, tuple[str, str]]:
    """Converted package weights the cloud's LLM deployments load: object -> (file, sha)."""
    files: dict[str, tuple[str, str]] = {}
    for name in _deployments_on(cfg, cloud, llm=True):
        use = LlmUse.of(cfg.models[name])
        if use is None or not isinstance(use.weights, PackageWeights):
            continue
        try:
            converted = converted_files(use.weights)
        except FileNotFoundError:
            raise pulumi.RunError(
                f"models.{name} serves {use.model} variant {use.variant}, whose weights are "
                f"converted from the {use.weights.package} package: run `make llm-weights` "
                "first (the model store publishes the converted folder)"
            ) from None
        for path, sha in converted:
            files[f"{use.weights.bucket_prefix}/{path.name}"] = (str(path), sha)
    return files


def build_model_stores(
    ctx: StackContext, base: Foundation, clusters: Mapping[str, ClusterHandle]
) -> ModelStores:
    cfg = ctx.config
    aws_store = gcp_store = None
    aws_models = repo_models_on(cfg, Cloud.AWS)
    aws_llms = _deployments_on(cfg, Cloud.AWS, llm=True)
    if base.aws is not None and (aws_models or aws_llms):
        readers = {
            name: clusters[cfg.models[name].cluster].irsa_assume_role_policy(
                SERVING_NAMESPACE, name
            )
            for name in _deployments_on(cfg, Cloud.AWS, llm=False)
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
        weights_readers = {
            name: WeightsAccess(
                trust=clusters[cfg.models[name].cluster].irsa_assume_role_policy(
                    SERVING_NAMESPACE, name
                ),
                prefix=use.weights.bucket_prefix,
            )
            for name in aws_llms
            if cfg.models[name].cluster in clusters and (use := LlmUse.of(cfg.models[name]))
        }
        weights_writers = {
            key: WeightsAccess(
                trust=handle.irsa_assume_role_policy(SERVING_NAMESPACE, f"import-{key}"),
                prefix=use.weights.bucket_prefix,
            )
            for key, (use, handle) in _hub_imports(cfg, Cloud.AWS, clusters).items()
        }
        aws_store = AwsModelStore(
            ctx.name("models", "aws"),
            AwsModelStoreArgs(
                bucket_name=ctx.model_bucket,
                snapshot=snapshot(aws_models),
                readers=readers,
                artifacts=artifacts,
                weights_readers=weights_readers,
                weights_writers=weights_writers,
                weights_files={
                    k: WeightsFile(path=f, sha256=s)
                    for k, (f, s) in _weights_files(cfg, Cloud.AWS).items()
                },
                protect=ctx.protect,
            ),
            opts=pulumi.ResourceOptions(provider=base.aws.provider),
        )
    gcp_models = repo_models_on(cfg, Cloud.GCP)
    gcp_llms = _deployments_on(cfg, Cloud.GCP, llm=True)
    if base.gcp is not None and cfg.gcp is not None and (gcp_models or gcp_llms):
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
                    f"{SERVING_NAMESPACE}/{name}"
                    for name in sorted(
                        {
                            *_deployments_on(cfg, Cloud.GCP, llm=False),
                            *gcp_llms,
                        },
                        key=list(cfg.models).index,
                    )
                ],
                weights_writers={
                    key: (f"{SERVING_NAMESPACE}/import-{key}", use.weights.bucket_prefix)
                    for key, (use, _handle) in _hub_imports(cfg, Cloud.GCP, clusters).items()
                },
                weights_files=_weights_files(cfg, Cloud.GCP),
                labels=dict(ctx.base_tags),
                protect=ctx.protect,
            ),
            opts=pulumi.ResourceOptions(provider=base.gcp.provider),
        )
    return ModelStores(aws=aws_store, gcp=gcp_store)


def _queue_target_us(models: list[str], variant: str | None) -> int:
    budgets = [
        b for m in models if (b := model_facts(m, variant=variant).latency_budget_ms) is not None
    ]
    return queue_time_target_us(min(budgets)) if budgets else 20_000


@dataclass(frozen=True)
class Served:
    """What serves each model deployment: Triton, or the LLM tier's vLLM server."""

    triton: dict[str, TritonServing]
    llm: dict[str, LlmServing]


def build_serving(
    ctx: StackContext, clusters: Mapping[str, ClusterHandle], stores: ModelStores
) -> Served:
    """Every model deployment on its cluster, reading its cloud's store."""
    cfg = ctx.config
    served = Served(triton={}, llm={})
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
                ServingNamespaceArgs(
                    name=SERVING_NAMESPACE,
                    gateway=gateway_peer(ctx.name("routing"), ROUTING_NAMESPACE)
                    if cfg.routing is not None and cfg.routing.entry_cluster == d.cluster
                    else None,
                    scrapers=prometheus_peer(MONITORING_NAMESPACE)
                    if cfg.monitoring is not None
                    else None,
                    gke_metadata=handle.cloud == "gcp",
                ),
                opts=after_capacity,
            )
        namespace = namespaces[d.cluster]
        use = LlmUse.of(d)
        if use is not None:
            served.llm[name] = _llm(
                ctx,
                name,
                d=d,
                use=use,
                handle=handle,
                store=store,
                namespace=namespace,
                opts=after_capacity,
            )
            continue
        if isinstance(store, AwsModelStore):
            annotations = {"eks.amazonaws.com/role-arn": store.reader_role_arns[name]}
            env = {"AWS_DEFAULT_REGION": handle.region, "AWS_REGION": handle.region}
        else:
            annotations = {"iam.gke.io/gcp-service-account": store.reader_email}
            env = {}
        served.triton[name] = TritonServing(
            ctx.name(name),
            TritonServingArgs(
                namespace=namespace.name,
                image=d.image
                or required(
                    cfg.serving.triton_image if cfg.serving else None, "serving.tritonImage"
                ),
                models=list(d.repo_models),
                variant=d.variant,
                repository_uri=store.repository_uri,
                tenant=d.tenant,
                replicas_min=d.replicas.min,
                replicas_max=d.replicas.max,
                requests={k: str(v) for k, v in d.resources.requests.items()},
                limits={k: str(v) for k, v in d.resources.limits.items()},
                node_selector=dict(d.node_selector),
                tolerations=_tolerations(d),
                queue_time_target_us=_queue_target_us(list(d.repo_models), d.variant),
                service_account_annotations=annotations,
                env=env,
                k8s_name=name,
            ),
            opts=after_capacity,
        )
    _imports(ctx, clusters, stores, namespaces)
    return served


def _uri(bucket: pulumi.Output[str], scheme: str, prefix: str) -> pulumi.Output[str]:
    return bucket.apply(lambda b: f"{scheme}://{b}/{prefix}")


def _tolerations(d: ModelDeployment) -> list[Toleration]:
    return [
        Toleration(key=t.key, operator=t.operator, value=t.value, effect=t.effect)
        for t in d.tolerations
    ]


def _llm(
    ctx: StackContext,
    name: str,
    *,
    d: ModelDeployment,
    use: LlmUse,
    handle: ClusterHandle,
    store: AwsModelStore | GcpModelStore,
    namespace: ServingNamespace,
    opts: pulumi.ResourceOptions,
) -> LlmServing:
    """vLLM's OpenAI server with the variant's engine arguments, weights from the bucket."""
    serving = required(ctx.config.serving, "serving")
    variant = use.manifest.variant(use.variant)
    prefix = use.weights.bucket_prefix
    if isinstance(store, AwsModelStore):
        cloud: Literal["aws", "gcp"] = "aws"
        copier = required(serving.aws_cli_image, "serving.awsCliImage")
        uri = store.bucket_name.apply(lambda b: f"s3://{b}/{prefix}")
        annotations = {"eks.amazonaws.com/role-arn": store.weights_reader_role_arns[name]}
        env = {"AWS_DEFAULT_REGION": handle.region, "AWS_REGION": handle.region}
    else:
        cloud = "gcp"
        copier = required(serving.gcloud_image, "serving.gcloudImage")
        uri = store.bucket_name.apply(lambda b: f"gs://{b}/{prefix}")
        annotations = {"iam.gke.io/gcp-service-account": store.reader_email}
        env = {}
    return LlmServing(
        ctx.name(name),
        LlmServingArgs(
            namespace=namespace.name,
            image=d.image or required(serving.vllm_image, "serving.vllmImage"),
            served_model_name=use.manifest.served_model_name,
            server_args=server_args(use.manifest, use.variant, MODEL_DIR),
            engine_env=engine_env(variant),
            weights=WeightsCopy(uri=uri, size_gb=use.weights.size_gb, image=copier, cloud=cloud),
            device=variant.device,
            tenant=d.tenant,
            replicas_min=d.replicas.min,
            replicas_max=d.replicas.max,
            requests={k: str(v) for k, v in d.resources.requests.items()},
            limits={k: str(v) for k, v in d.resources.limits.items()},
            node_selector=dict(d.node_selector),
            tolerations=_tolerations(d),
            waiting_target=waiting_target(variant.engine.max_num_seqs),
            service_account_annotations=annotations,
            env=env,
            k8s_name=name,
        ),
        opts=pulumi.ResourceOptions.merge(
            opts,
            pulumi.ResourceOptions(
                depends_on=list(store.weights_objects),
                # LLM deployments were TritonServing components (Triton's vLLM backend)
                # before: the alias makes `pulumi up` update their Deployment, Service and
                # friends in place instead of creating same-named objects beside them.
                aliases=[pulumi.Alias(type_=TRITON_TYPE)],
            ),
        ),
    )


def _imports(
    ctx: StackContext,
    clusters: Mapping[str, ClusterHandle],
    stores: ModelStores,
    namespaces: Mapping[str, ServingNamespace],
) -> None:
    """The opt-in hub imports: each pinned hub commit copied once into its cloud's bucket."""
    serving = ctx.config.serving
    if serving is None or not serving.hub_import.enabled:
        return
    token = secret("hubToken")
    for cloud, store in ((Cloud.AWS, stores.aws), (Cloud.GCP, stores.gcp)):
        if store is None:
            continue
        for key, (use, handle) in _hub_imports(ctx.config, cloud, clusters).items():
            weights = use.weights
            if not isinstance(weights, HubWeights):
                continue
            if weights.gated and token is None:
                raise pulumi.RunError(
                    f"serving.hubImport: {weights.hub} is gated: the import needs a hub token; "
                    f"set it with `pulumi config set --secret {NAMESPACE}:hubToken <token>`"
                )
            prefix = weights.bucket_prefix
            if isinstance(store, AwsModelStore):
                scheme, copier = "s3", required(serving.aws_cli_image, "serving.awsCliImage")
                annotations = {"eks.amazonaws.com/role-arn": store.weights_writer_role_arns[key]}
                env = {"AWS_DEFAULT_REGION": handle.region, "AWS_REGION": handle.region}
            else:
                scheme, copier = "gs", required(serving.gcloud_image, "serving.gcloudImage")
                annotations = {"iam.gke.io/gcp-service-account": store.weights_writer_emails[key]}
                env = {}
            HubWeightsImport(
                ctx.name(handle.name, "import", key),
                HubWeightsImportArgs(
                    namespace=namespaces[handle.name].name,
                    hub=weights.hub,
                    revision=weights.revision,
                    destination=_uri(store.bucket_name, scheme, prefix),
                    cloud="aws" if cloud is Cloud.AWS else "gcp",
                    download_image=serving.hub_import.image
                    or required(serving.vllm_image, "serving.vllmImage"),
                    copy_image=copier,
                    size_gb=weights.size_gb,
                    token=token if weights.gated else None,
                    service_account_annotations=annotations,
                    env=env,
                    k8s_name=f"import-{key}",
                ),
                opts=pulumi.ResourceOptions(provider=handle.provider),
            )
