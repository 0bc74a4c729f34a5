"""``python -m tools.checkov_k8s [--plans DIR] [STACK ...]``: checkov's Kubernetes checks on
the objects the stacks create.

The plans' plain Kubernetes objects (``kubernetes:*`` resources; Helm releases are opaque
values, not manifests) are rendered as the manifests a real ``pulumi up`` sends
(:func:`tools.conformance.plans.manifest`) into ``build/checkov/<stack>.yaml``, and
checkov (its own pinned venv, ``make checkov``) runs its Kubernetes framework on them,
offline (``--skip-download``). Each finding is either fixed in ``components/k8s`` or
listed in :data:`SKIPS` with its check, the resources it covers and why; a skip that
matches no finding is stale and fails the run as a finding does.

Plans: recorded from the program (``make preview``'s path) unless ``--plans DIR`` names
a folder of ``<stack>.json`` (``tests/golden``). Exit status: 0 clean; 1 an unskipped
finding or a stale skip; 2 bad usage, a stack that does not validate, or no checkov.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from tools.conformance.plans import kubernetes_objects, manifest
from tools.preview.recorder import Plan
from tools.preview.run import preview_stacks

EXIT_FINDINGS = 1
EXIT_USAGE = 2
OUT_DIR = Path("build/checkov")
CHECKOV = Path("build/checkov-venv/bin/checkov")


@dataclass(frozen=True)
class Skip:
    """A checkov finding that is accepted, by check and resource, with the reason."""

    check: str
    resource: str
    """Glob on checkov's resource id: ``<Kind>.<namespace>.<name>`` (a Pod of a
    workload: ``Pod.<namespace>.<name>.<its labels>``)."""
    kind: Literal["false-positive", "pending"]
    """false-positive: the check's rule does not apply here; pending: a real finding
    whose fix is outside components/k8s or needs what this machine lacks (the reason
    says what and where)."""
    why: str


_NO_CPU_LIMIT = (
    "CPU limits are left off on purpose: the CFS quota throttles the inference server's "
    "batching and tokenizer threads in bursts and adds tail latency while the node's CPU "
    "sits idle; requests reserve the CPU and memory is limited (resource-requests-limits)"
)
_DIGEST = (
    "images are pinned to exact tags (pinned-images) but not to digests; the digests of "
    "nvcr.io/docker.io/gcr.io images must be read from the registries, which this machine "
    "cannot reach: pin them in stacks/Pulumi.<env>.yaml, then set pinned-images."
    "requireDigest: true"
)

SKIPS: tuple[Skip, ...] = (
    Skip("CKV_K8S_11", "Deployment.llm-serving.*", "false-positive", _NO_CPU_LIMIT),
    Skip("CKV_K8S_11", "Deployment.llm-gateway.sagemaker-sigv4", "false-positive", _NO_CPU_LIMIT),
    Skip("CKV_K8S_43", "Deployment.llm-serving.*", "pending", _DIGEST),
    Skip(
        "CKV_K8S_15",
        "Deployment.llm-serving.*",
        "pending",
        "follows CKV_K8S_43: checkov passes IfNotPresent once the image has a digest; "
        "Always would make every pod start (scale-out, spot replacement) wait on the registry "
        "for a reference that, tag-pinned, should not move. " + _DIGEST,
    ),
    Skip(
        "CKV_K8S_40",
        "Deployment.llm-serving.*",
        "pending",
        "vLLM and Triton run as UID 1000, the images' own non-root user (components/k8s/llm.py, "
        "triton.py). On Amazon Linux nodes UID 1000 is ec2-user, so a high UID (>= 10000) is "
        "the better choice, but a UID without a passwd entry breaks getpass.getuser() (torch's "
        "compile cache) unless USER is set: change it with a run on a GPU node",
    ),
)


@dataclass(frozen=True)
class Finding:
    stack: str
    check: str
    name: str
    resource: str

    def line(self) -> str:
        return f"{OUT_DIR / self.stack}.yaml: {self.check} {self.resource}: {self.name}"


def manifests(plan: Plan) -> list[dict[str, Any]]:
    """The plan's plain Kubernetes objects, as ``pulumi up`` would send them."""
    return [manifest(r) for r in kubernetes_objects(plan)]


def write_manifests(plans: Mapping[str, Plan], out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for stack, plan in plans.items():
        path = out / f"{stack}.yaml"
        path.write_text(yaml.safe_dump_all(manifests(plan), sort_keys=False))
        files[stack] = path
    return files


def run_checkov(checkov: Path, folder: Path) -> list[dict[str, Any]]:
    """checkov's failed Kubernetes checks on the manifests of a folder (offline, no skips);
    each carries ``file_path``, ``/<stack>.yaml``. One run: checkov takes seconds to start."""
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
    command = [str(checkov), "--directory", str(folder), "--framework", "kubernetes"]
    command += ["--output", "json", "--quiet", "--compact", "--skip-download"]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"checkov failed on {folder} ({proc.returncode}): {proc.stderr[-2000:]}")
    report = json.loads(proc.stdout or "{}")
    reports = report if isinstance(report, list) else [report]
    return [f for r in reports for f in (r.get("results") or {}).get("failed_checks", [])]


def findings_of(failed: Iterable[Mapping[str, Any]]) -> list[Finding]:
    return sorted(
        {
            Finding(
                Path(str(f["file_path"])).stem,
                str(f["check_id"]),
                str(f["check_name"]),
                str(f["resource"]),
            )
            for f in failed
        },
        key=lambda f: (f.stack, f.check, f.resource),
    )


def covers(skip: Skip, finding: Finding) -> bool:
    return skip.check == finding.check and fnmatch.fnmatchcase(finding.resource, skip.resource)


def triage(
    findings: Sequence[Finding], skips: Sequence[Skip] = SKIPS
) -> tuple[list[Finding], list[Skip]]:
    """The findings no skip covers, and the skips that cover no finding (stale)."""
    open_ = [f for f in findings if not any(covers(s, f) for s in skips)]
    stale = [s for s in skips if not any(covers(s, f) for f in findings)]
    return open_, stale


LOCK_HEADER = """\
# checkov and its dependencies, for `make checkov` (checkov's Kubernetes checks on the
# rendered plans). Its own venv, build/checkov-venv: checkov pins packages (boto3,
# pydantic, networkx...) that the project's environment must not follow.
# Generated by `make checkov-lock`; installed with --require-hashes. The hashes are
# those of the files pip chose on the machine that ran the lock (CPython 3.11,
# manylinux x86_64 wheels): run the lock again on another platform.
"""


def lock_lines(report: Mapping[str, Any]) -> list[str]:
    """``name==version --hash=sha256:...`` for every package of a ``pip install --report``."""
    lines = []
    for item in sorted(report["install"], key=lambda i: str(i["metadata"]["name"]).lower()):
        meta, archive = item["metadata"], item["download_info"].get("archive_info", {})
        digest = (archive.get("hashes") or {}).get("sha256")
        if not digest:
            raise ValueError(f"{meta['name']}: pip reported no sha256 (not from an index?)")
        lines.append(f"{meta['name']}=={meta['version']} --hash=sha256:{digest}")
    return lines


def load_plans(stacks: Sequence[str], folder: Path | None) -> tuple[dict[str, Plan], list[str]]:
    if folder is not None:
        plans = {}
        for stack in stacks:
            doc = json.loads((folder / f"{stack}.json").read_text())
            plans[stack] = Plan(
                stack=doc["stack"],
                project=doc["project"],
                resources=doc["resources"],
                outputs=doc.get("outputs", {}),
            )
        return plans, []
    plans, errors = {}, []
    for result in preview_stacks(stacks):
        if result.plan is None:
            errors.append(str(result.error))
        else:
            plans[result.stack] = result.plan
    return plans, errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.checkov_k8s", description=__doc__.splitlines()[0]
    )
    parser.add_argument("stacks", nargs="*", default=["dev", "staging", "prod", "edge"])
    parser.add_argument("--plans", type=Path, help="read <stack>.json from this folder")
    parser.add_argument("--checkov", type=Path, default=CHECKOV, help="checkov executable")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where manifests are written")
    parser.add_argument(
        "--lock-from", type=Path, help="print requirements with hashes from a pip --report"
    )
    args = parser.parse_args(argv)
    if args.lock_from is not None:
        report = json.loads(args.lock_from.read_text())
        print(LOCK_HEADER + "\n".join(lock_lines(report)))
        return 0
    if not args.checkov.exists():
        print(f"{args.checkov}: no checkov here; run `make checkov`", file=sys.stderr)
        return EXIT_USAGE
    plans, errors = load_plans(args.stacks, args.plans)
    for error in errors:
        print(error, file=sys.stderr)
    for old in args.out.glob("*.yaml"):
        old.unlink()  # a stack left out of this run must not be scanned
    write_manifests(plans, args.out)
    findings = findings_of(run_checkov(args.checkov, args.out))
    open_, stale = triage(findings)
    skipped = len(findings) - len(open_)
    for f in open_:
        print(f.line())
    for s in stale:
        print(
            f"tools/checkov_k8s.py: stale skip {s.check} {s.resource}: matches no finding; "
            "remove it"
        )
    pending = sum(1 for f in findings if any(covers(s, f) for s in SKIPS if s.kind == "pending"))
    print(
        f"checkov {', '.join(plans)}: {len(findings)} failed checks on "
        f"{sum(len(manifests(p)) for p in plans.values())} objects; {skipped} skipped "
        f"({pending} pending fixes, see tools/checkov_k8s.py), {len(open_)} open, "
        f"{len(stale)} stale skips"
    )
    if errors:
        return EXIT_USAGE
    return EXIT_FINDINGS if open_ or stale else 0


if __name__ == "__main__":
    sys.exit(main())
