"""``make cost [BASE=<git ref>]``: every stack's monthly cost, or its delta against a base.

Without a base: the estimate of each stack of the working tree (floor, ceiling,
lines, models, tenants and the assumptions). With ``--base <ref>``: the base's
files are exported with ``git archive`` into a temporary directory (the checkout,
its index and its worktrees are never touched), estimated with the base's own code
when it has a cost model (with this one otherwise), and the delta per stack and per
line is printed, for a pull request's description.

Exit status 2 on a bad ref or an invalid stack file in the working tree.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from blueprint.config import ConfigError, load_stack_file, stack_file
from blueprint.cost.estimate import ASSUMPTIONS, estimate, usd
from blueprint.paths import REPO_ROOT, STACK_DIR
from tools.cost.render import estimate_lines
from tools.preview.render import table

EXIT_ERROR = 2


def known_stacks(stack_dir: Path) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in stack_dir.glob("Pulumi.*.yaml"))


def summary(stack_dir: Path) -> dict[str, Any]:
    """``{stack: {floor, ceiling, ceilingFallback, lines: {name: [floor, ceiling]}}}``;
    a stack whose file is invalid maps to ``{"error": text}``."""
    out: dict[str, Any] = {}
    for stack in known_stacks(stack_dir):
        try:
            cfg = load_stack_file(stack_file(stack, stack_dir))
        except ConfigError as exc:
            out[stack] = {"error": str(exc)}
            continue
        est = estimate(cfg, stack)
        out[stack] = {
            "floor": est.floor,
            "ceiling": est.ceiling,
            "ceilingFallback": est.ceiling_fallback,
            "lines": {f"{line.kind} {line.name}": [line.floor, line.ceiling] for line in est.lines},
        }
    return out


def export_ref(ref: str, into: Path) -> None:
    """The tree of ``ref`` written under ``into`` (git archive; no checkout change)."""
    verified = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if verified.returncode != 0:
        raise ValueError(f"BASE={ref!r} is not a commit, branch or tag of this repository")
    archive = subprocess.run(
        ["git", "archive", "--format=tar", verified.stdout.strip()],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")


_COST_MODULES = ("tools.cost", "blueprint.cost")


def base_summary(ref: str) -> tuple[dict[str, Any], str]:
    """The base's summary, and how it was computed."""
    with tempfile.TemporaryDirectory(prefix="cost-base-") as tmp:
        root = Path(tmp)
        export_ref(ref, root)
        # The cost command of the base itself (it moved from blueprint.cost to tools.cost).
        module = next(
            (m for m in _COST_MODULES if (root / m.replace(".", "/") / "__main__.py").exists()),
            None,
        )
        if module is not None:
            env = {**os.environ, "PYTHONPATH": str(root)}
            env.pop("BLUEPRINT_ROOT", None)
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    module,
                    "--json",
                    "--stack-dir",
                    str(root / "stacks"),
                ],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode == 0:
                return json.loads(result.stdout), "the base's own cost model"
        return summary(root / "stacks"), "this tree's cost model on the base's stack files"


def _delta(new: float, old: float) -> str:
    diff = new - old
    sign = "+" if diff >= 0 else "-"
    pct = f" ({diff / old:+.0%})" if old else ""
    return f"{sign}{usd(abs(diff))}{pct}"


def delta_lines(base: dict[str, Any], head: dict[str, Any], ref: str, how: str) -> list[str]:
    rows = []
    details: list[str] = []
    for stack in sorted(set(base) | set(head)):
        b, h = base.get(stack), head.get(stack)
        if h is None or "error" in h:
            rows.append([stack, "-", "removed" if h is None else "invalid", "", "", "", ""])
            continue
        if b is None or "error" in b:
            rows.append([stack, "-", usd(h["floor"]), "new", "-", usd(h["ceiling"]), "new"])
            continue
        rows.append(
            [
                stack,
                usd(b["floor"]),
                usd(h["floor"]),
                _delta(h["floor"], b["floor"]),
                usd(b["ceiling"]),
                usd(h["ceiling"]),
                _delta(h["ceiling"], b["ceiling"]),
            ]
        )
        for name in sorted(set(b["lines"]) | set(h["lines"])):
            old, new = b["lines"].get(name), h["lines"].get(name)
            if old == new:
                continue
            if old is None:
                details.append(f"  {stack}: + {name}: ceiling {usd(new[1])} (floor {usd(new[0])})")
            elif new is None:
                details.append(f"  {stack}: - {name}: ceiling {usd(old[1])} (floor {usd(old[0])})")
            else:
                details.append(
                    f"  {stack}: ~ {name}: ceiling {usd(old[1])} -> {usd(new[1])}, "
                    f"floor {usd(old[0])} -> {usd(new[0])}"
                )
    head_lines = [f"Monthly cost of this tree against {ref} ({how}):", ""]
    headers = ["stack", "base floor", "floor", "change", "base ceiling", "ceiling", "change"]
    body = head_lines + table(headers, rows)
    if details:
        body += ["", "What changed:", *details]
    else:
        body += ["", "No line of any estimate changed."]
    return body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make cost", description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="git ref to compare the working tree against")
    parser.add_argument("--stack-dir", type=Path, default=STACK_DIR)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    head = summary(args.stack_dir)
    if args.json:
        print(json.dumps(head, sort_keys=True))
        return 0
    errors = [v["error"] for v in head.values() if "error" in v]
    for error in errors:
        print(error, file=sys.stderr)
    if args.base is None:
        for stack in known_stacks(args.stack_dir):
            if "error" in head[stack]:
                continue
            cfg = load_stack_file(stack_file(stack, args.stack_dir))
            print(f"== stack {stack}")
            print("\n".join(estimate_lines(estimate(cfg, stack))))
            print()
        print("Assumptions:")
        print("\n".join(f"  - {a}" for a in ASSUMPTIONS))
        return EXIT_ERROR if errors else 0
    try:
        base, how = base_summary(args.base)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print("\n".join(delta_lines(base, head, args.base, how)))
    return EXIT_ERROR if errors else 0


if __name__ == "__main__":
    sys.exit(main())
