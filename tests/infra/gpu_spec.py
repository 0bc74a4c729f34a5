"""What a GPU node should have, from the catalog, and what ``nvidia-smi`` says it has.

Used by the testinfra suite (``test_gpu_node.py``) and, where pytest-testinfra is
not installed, directly: ``python3 -m tests.infra.gpu_spec --gpu-spec SPEC``.
Needs only the standard library and PyYAML, so it runs on a bare GPU machine
(the blueprint's own config code needs pydantic, which such a machine may lack):
it reads the catalog and stack files as plain YAML.

A spec names what the node should be, in one of three forms:

- ``<count> x <GPU model>[, MIG disabled | , MIG <profile>]``, e.g.
  ``1 x H200-141GB, MIG disabled`` (a machine outside the catalog's instance types);
- ``<instance type>``, e.g. ``p5en.48xlarge`` (its GPUs, MIG disabled);
- ``<stack>/<pool>``, e.g. ``prod/heavy-h100`` (the pool's GPU model, the GPU
  counts of its instance types, its MIG layout).

Every command this module runs is read-only: :func:`read_only` refuses any
``nvidia-smi`` invocation outside a short allowlist of queries, so no check can
change a GPU's settings (MIG mode included).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "blueprint" / "catalog"
STACKS = REPO / "stacks"

MEMORY_TOLERANCE = (0.92, 1.02)
"""nvidia-smi reports usable memory in MiB; the catalog the marketed size in GB.
Seen: H100 80GB 81559 MiB (0.996), H200 143771 MiB (0.996); L4/L40S/A10G report
about 6 % under their marketed size."""

QUERY_FIELDS = ("index", "name", "memory.total", "driver_version", "mig.mode.current")

Runner = Callable[[str], tuple[int, str]]
"""Runs a shell command on the node; returns (exit status, standard output)."""


class SpecError(ValueError):
    """A --gpu-spec that names nothing the catalog or the stack files know."""


@dataclass(frozen=True)
class Expected:
    """What a node of the spec must show."""

    source: str
    gpu_model: str
    product: str
    memory_gb: int
    counts: frozenset[int]
    """Acceptable GPU counts (a pool's instance types may differ)."""
    mig: dict[str, int] | None = None
    """MIG profile -> instances per GPU when MIG is declared; None for MIG disabled."""
    mig_capable: bool = False


@dataclass
class Observed:
    """What nvidia-smi reported."""

    gpus: list[dict[str, str]] = field(default_factory=list)
    mig_devices: dict[int, list[str]] = field(default_factory=dict)
    """GPU index -> MIG device profiles listed under it by ``nvidia-smi -L``."""
    smi_version: str = ""


# ---------------------------------------------------------------------------
# Specs


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _gpu(model: str) -> dict[str, Any]:
    gpus = _load(CATALOG / "gpus.yaml")["gpus"]
    if model not in gpus:
        raise SpecError(f"unknown GPU model {model!r}; the catalog has: {', '.join(sorted(gpus))}")
    return dict(gpus[model])


def _mig_layout(model: str, profile: str | None) -> dict[str, int] | None:
    if profile is None:
        return None
    mig = _gpu(model).get("mig") or {}
    if profile not in mig:
        known = ", ".join(mig) or "none: it has no MIG"
        raise SpecError(f"{model} has no MIG profile {profile!r}; its profiles: {known}")
    return {profile: int(mig[profile]["instances"])}


_COUNT_FORM = re.compile(
    r"\s*(?P<count>\d+)\s*[xX×]\s*(?P<model>[A-Za-z0-9.-]+)"
    r"\s*(?:,\s*(?:MIG|mig)\s*[=:]?\s*(?P<mig>[A-Za-z0-9.]+))?\s*"
)
_MIG_OFF = {"disabled", "off", "none", "no"}


def parse_spec(text: str) -> Expected:
    """Turn a --gpu-spec into what the node must show; SpecError says what is accepted."""
    text = text.strip()
    match = _COUNT_FORM.fullmatch(text)
    if match:
        model = match.group("model")
        mig = match.group("mig")
        profile = None if mig is None or mig.lower() in _MIG_OFF else mig
        return _expected(text, model, frozenset({int(match.group("count"))}), profile)
    if "/" in text:
        stack, _, pool = text.partition("/")
        return _pool_spec(text, stack, pool)
    instances = _load(CATALOG / "instances.yaml")["instances"]
    if text in instances:
        row = instances[text]
        if not row.get("gpu"):
            raise SpecError(f"instance type {text} has no GPU")
        return _expected(text, row["gpu"], frozenset({int(row["gpus"])}), None)
    raise SpecError(
        f"--gpu-spec {text!r} is not understood; use '<count> x <GPU model>[, MIG disabled|"
        "<profile>]' (e.g. '1 x H200-141GB, MIG disabled'), an instance type from "
        "blueprint/catalog/instances.yaml (e.g. p5en.48xlarge), or '<stack>/<pool>' "
        "(e.g. prod/heavy-h100)"
    )


def _expected(source: str, model: str, counts: frozenset[int], profile: str | None) -> Expected:
    gpu = _gpu(model)
    return Expected(
        source=source,
        gpu_model=model,
        product=str(gpu["product"]),
        memory_gb=int(gpu["memoryGb"]),
        counts=counts,
        mig=_mig_layout(model, profile),
        mig_capable=bool(gpu.get("mig")),
    )


def _pool_spec(source: str, stack: str, pool: str) -> Expected:
    path = STACKS / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in STACKS.glob("Pulumi.*.yaml"))
        raise SpecError(f"no stack {stack!r} (no {path.name}); stacks: {', '.join(known)}")
    pools = (_load(path).get("config") or {}).get("llm-inference:gpuPools") or {}
    if pool not in pools:
        raise SpecError(f"stack {stack} has no GPU pool {pool!r}; pools: {', '.join(pools)}")
    row = pools[pool]
    instances = _load(CATALOG / "instances.yaml")["instances"]
    types = [instances[t] for t in row["instanceTypes"]]
    models = {t.get("gpu") for t in types}
    if len(models) != 1 or None in models:
        raise SpecError(f"pool {stack}/{pool} is not a GPU pool of one GPU model")
    mig = row.get("mig") or {}
    if mig.get("mixed"):
        model = next(iter(models))
        layout = {p: int(n) for p, n in mig["mixed"].items()}
        gpu = _gpu(model)
        return Expected(
            source, model, str(gpu["product"]), int(gpu["memoryGb"]),
            frozenset(int(t["gpus"]) for t in types), layout, True,
        )  # fmt: skip
    return _expected(
        source,
        str(next(iter(models))),
        frozenset(int(t["gpus"]) for t in types),
        mig.get("profile"),
    )


# ---------------------------------------------------------------------------
# Observation (read-only)

_ALLOWED = (
    ("--version",),
    ("-L",),
    (f"--query-gpu={','.join(QUERY_FIELDS)}", "--format=csv,noheader,nounits"),
)


def read_only(smi: str, *args: str) -> str:
    """The command line for an allowed, read-only nvidia-smi query; anything else is refused."""
    if tuple(args) not in _ALLOWED:
        raise PermissionError(f"refusing nvidia-smi {' '.join(args)}: the checks are read-only")
    return " ".join([smi, *(shlex.quote(a) for a in args)])


_MIG_LINE = re.compile(r"^\s+MIG\s+(?P<profile>\S+)\s+Device\s+\d+:")
_GPU_LINE = re.compile(r"^GPU\s+(?P<index>\d+):")


def observe(run: Runner, smi: str = "nvidia-smi") -> Observed:
    """Ask nvidia-smi, read-only, for the GPUs, their memory, driver and MIG state."""
    seen = Observed()
    status, out = run(read_only(smi, "--version"))
    if status != 0:
        raise RuntimeError(f"`{smi} --version` failed (exit {status}): is the driver installed?")
    seen.smi_version = out.strip()
    status, out = run(read_only(smi, *_ALLOWED[2]))
    if status != 0:
        raise RuntimeError(f"nvidia-smi query failed (exit {status}): {out.strip()}")
    for line in out.strip().splitlines():
        values = [v.strip() for v in line.split(",")]
        if len(values) == len(QUERY_FIELDS):
            seen.gpus.append(dict(zip(QUERY_FIELDS, values, strict=True)))
    status, out = run(read_only(smi, "-L"))
    current = -1
    for line in out.splitlines():
        gpu = _GPU_LINE.match(line)
        if gpu:
            current = int(gpu.group("index"))
            seen.mig_devices.setdefault(current, [])
            continue
        mig = _MIG_LINE.match(line)
        if mig and current >= 0:
            seen.mig_devices[current].append(mig.group("profile"))
    return seen


# ---------------------------------------------------------------------------
# Checks: each returns a list of problems (empty when the node matches)


def check_driver(seen: Observed) -> list[str]:
    drivers = {g["driver_version"] for g in seen.gpus}
    if not seen.gpus:
        return ["nvidia-smi lists no GPU"]
    if not drivers or any(not d or d.startswith("[") for d in drivers):
        return [f"no driver version reported ({sorted(drivers)})"]
    return []


def check_count(expected: Expected, seen: Observed) -> list[str]:
    if len(seen.gpus) not in expected.counts:
        want = " or ".join(str(c) for c in sorted(expected.counts))
        return [f"{len(seen.gpus)} GPUs, expected {want} ({expected.source})"]
    return []


def check_model(expected: Expected, seen: Observed) -> list[str]:
    wrong = [
        g
        for g in seen.gpus
        if not (g["name"] == expected.product or g["name"].startswith(expected.product + " "))
    ]
    return [
        f"GPU {g['index']} is {g['name']!r}, expected {expected.product!r} ({expected.gpu_model})"
        for g in wrong
    ]


def check_memory(expected: Expected, seen: Observed) -> list[str]:
    low, high = MEMORY_TOLERANCE
    problems = []
    for g in seen.gpus:
        try:
            gib = float(g["memory.total"]) / 1024
        except ValueError:
            problems.append(f"GPU {g['index']}: memory not reported ({g['memory.total']!r})")
            continue
        if not low * expected.memory_gb <= gib <= high * expected.memory_gb:
            problems.append(
                f"GPU {g['index']}: {g['memory.total']} MiB ({gib:.1f} GiB), expected about "
                f"{expected.memory_gb} GB ({low:.0%}-{high:.0%})"
            )
    return problems


def check_mig(expected: Expected, seen: Observed) -> list[str]:
    problems = []
    for g in seen.gpus:
        index = int(g["index"])
        mode = g["mig.mode.current"]
        devices = sorted(seen.mig_devices.get(index, []))
        if expected.mig is None:
            # GPUs without MIG report [N/A]; MIG-capable ones must report Disabled.
            if mode not in ("Disabled", "[N/A]", "N/A") or devices:
                problems.append(
                    f"GPU {index}: MIG mode {mode!r} with {len(devices)} MIG devices; "
                    "declared: MIG disabled"
                )
            continue
        want = sorted(p for p, n in expected.mig.items() for _ in range(n))
        if mode != "Enabled" or devices != want:
            problems.append(
                f"GPU {index}: MIG mode {mode!r}, MIG devices {devices}; declared: {want}"
            )
    return problems


CHECKS = {
    "driver and nvidia-smi present": lambda e, s: check_driver(s),
    "GPU count": check_count,
    "GPU model": check_model,
    "GPU memory": check_memory,
    "MIG mode and layout": check_mig,
}


def summary(seen: Observed) -> dict[str, Any]:
    return {
        "nvidia-smi": seen.smi_version.splitlines()[:2],
        "gpus": seen.gpus,
        "mig": seen.mig_devices,
    }


def local_runner(command: str) -> tuple[int, str]:
    proc = subprocess.run(command, shell=True, capture_output=True, text=True, check=False)  # noqa: S602
    return proc.returncode, proc.stdout + proc.stderr


def main(argv: list[str] | None = None) -> int:
    """The same checks without pytest-testinfra: plain python3 and nvidia-smi on this host."""
    parser = argparse.ArgumentParser(
        prog="python3 -m tests.infra.gpu_spec", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--gpu-spec", required=True, help="e.g. '1 x H200-141GB, MIG disabled'")
    parser.add_argument("--nvidia-smi", default="nvidia-smi", help="the nvidia-smi command to run")
    args = parser.parse_args(argv)
    try:
        expected = parse_spec(args.gpu_spec)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        seen = observe(local_runner, args.nvidia_smi)
    except RuntimeError as exc:
        print(f"FAIL driver and nvidia-smi present: {exc}")
        return 1
    print(json.dumps({"expected": expected.source, "observed": summary(seen)}, indent=1))
    failed = 0
    for name, check in CHECKS.items():
        problems = check(expected, seen)
        print(
            f"{'PASS' if not problems else 'FAIL'} {name}" + "".join(f"\n  - {p}" for p in problems)
        )
        failed += bool(problems)
    print(f"{len(CHECKS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
