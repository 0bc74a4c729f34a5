"""Cross-checks between model deployments and the pools of their cluster.

A deployment is accepted only if some pool of its cluster (its GPU pools or the
system node group) can run one of its pods (:mod:`blueprint.placement` decides
where it lands). Then the replicas at their maximum must fit under the pool's
ceiling, together with the other deployments placed on that pool.

The check runs once the pools themselves are valid (instance types, tiers, MIG
geometry, sizes); until then their errors are the ones worth reading.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from blueprint import tags
from blueprint.capacity import SYSTEM_POOL, PoolSpec, pool_specs
from blueprint.config.errors import ConfigIssue
from blueprint.config.rules.base import rule
from blueprint.placement import Misfit, devices_per_node, placements
from blueprint.schema import ModelDeployment, StackConfig


def _pools_are_valid(cfg: StackConfig, specs: Mapping[str, PoolSpec]) -> bool:
    if len(specs) != len(cfg.gpu_pools):
        return False  # some pool did not resolve: its own errors come first
    return all(
        p.nodes.min <= p.nodes.max and p.on_demand_floor <= p.nodes.max
        for p in cfg.gpu_pools.values()
    )


@rule
def deployments_fit_pools(cfg: StackConfig) -> Iterator[ConfigIssue]:
    specs = pool_specs(cfg)
    if not _pools_are_valid(cfg, specs):
        return
    placed: dict[str, list[tuple[str, int]]] = {}  # pool -> (deployment, devices at max)
    for dep_name, where in placements(cfg).items():
        dep = cfg.models[dep_name]
        base = ("models", dep_name)
        if where.request_error is not None:
            yield ConfigIssue((*base, *where.request_error.path), where.request_error.reason)
            continue
        if where.pool is None:
            yield _refusal(dep_name, dep, where.misfits)
            continue
        if where.devices and not where.pool.system:
            placed.setdefault(where.pool.name, []).append(
                (dep_name, where.devices_per_pod * dep.replicas.max)
            )
    yield from _ceilings(specs, placed)


def _refusal(dep_name: str, dep: ModelDeployment, misfits: Mapping[str, Misfit]) -> ConfigIssue:
    """One error for a deployment no pool can run, at the key most worth fixing.

    Pools whose labels the node selector matches are the ones the user meant: their
    reasons are given. When the selector matches no pool at all, the error says so
    and lists the pools there are.
    """
    meant = {n: m for n, m in misfits.items() if not m.selector}
    if meant:
        first = next(iter(meant.values()))
        reasons = "; ".join(f"pool {name}: {m.reason}" for name, m in meant.items())
        return ConfigIssue(
            ("models", dep_name, *first.path),
            f"no pool of cluster {dep.cluster} can run it ({reasons})",
        )
    pools = ", ".join(sorted(n for n in misfits if n != SYSTEM_POOL)) or "none"
    wanted = ", ".join(f"{k}={v}" for k, v in sorted(dep.node_selector.items()))
    first = next(iter(misfits.values()))
    return ConfigIssue(
        ("models", dep_name, *first.path),
        f"no pool of cluster {dep.cluster} has nodes labelled {wanted}; select a pool with "
        f"nodeSelector {tags.POOL_LABEL}: <pool> (pools on {dep.cluster}: {pools})",
    )


def _ceilings(
    specs: Mapping[str, PoolSpec],
    placed: Mapping[str, list[tuple[str, int]]],
) -> Iterator[ConfigIssue]:
    """Deployments at their maximum replicas must fit under their pool's ceiling."""
    for pool_name, uses in sorted(placed.items()):
        spec = specs[pool_name]
        need = sum(n for _, n in uses)
        have = spec.max_nodes * devices_per_node(spec)
        if need <= have:
            continue
        who = ", ".join(f"{d} ({n})" for d, n in uses)
        yield ConfigIssue(
            ("gpuPools", pool_name, "nodes", "max"),
            f"deployments placed on this pool need {need} GPU devices at their maximum replicas "
            f"({who}), but its ceiling holds {have} ({spec.max_nodes} nodes x "
            f"{have // max(spec.max_nodes, 1)} per node); raise nodes.max or lower the "
            "deployments' replicas.max",
            spec.max_nodes,
        )
