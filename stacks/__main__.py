"""The composition root: one stack of the LLM inference platform, section by section.

``pulumi preview|up -s <stack>`` runs this for real; ``make preview`` runs it offline
under Pulumi's mocks. Each section lives in its own module of ``composition/`` and
hands components typed arguments; only ``composition.context`` reads Pulumi config.
"""

from composition import (
    budgets,
    clusters,
    context,
    exports,
    foundation,
    monitoring,
    routing,
    serverless,
    serving,
)


def main() -> None:
    ctx = context.load()  # the validated config; every mistake reported at once

    base = foundation.build(ctx)  # providers and networks, per cloud
    handles = clusters.build(ctx, base)  # EKS/GKE with GPU pools, MIG, spot burst
    monitoring.build(ctx, handles, base)  # Prometheus, alerts with runbooks, dashboards
    budgets.build(ctx, base)  # budgets per cloud, split by estimated ceiling
    stores = serving.build_model_stores(ctx, base, handles)  # model_repo/ in S3 and GCS
    served = serving.build_serving(ctx, handles, stores)  # Triton or vLLM per deployment
    core = routing.core(ctx)  # the edge's core stack, checked against the edge
    endpoints = serverless.build(ctx, base, stores)  # SageMaker Serverless, Vertex AI
    gateway = routing.build(ctx, handles, endpoints, base, core)  # classes to tiers
    dns = routing.build_dns(ctx, base, gateway, core)  # latency records, failover

    exports.export(
        ctx,
        base=base,
        clusters=handles,
        stores=stores,
        serving=served,
        serverless=endpoints,
        core=core,
        dns=dns,
    )


main()
