"""``make check-models``: validate model_repo/ and the deployments that use it.

    python -m blueprint.modelrepo [--repo model_repo] [--stacks stacks] [--no-stacks]

Exit status 0 when clean, 2 with one line per finding (file:line: field: what is
wrong (got value); fix: ...), and no traceback for a bad config.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from blueprint.modelrepo.llm import llm_names, load_llm
from blueprint.modelrepo.repo import latency_budgets, model_names
from blueprint.paths import MODEL_REPO, STACK_DIR
from tools.modelcheck.targets import stack_targets
from tools.modelcheck.validate import Target, iter_lines, validate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="check-models", description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path(os.environ.get("MODEL_REPO", MODEL_REPO)))
    parser.add_argument("--stacks", type=Path, default=STACK_DIR, help="folder of stack files")
    parser.add_argument(
        "--no-stacks", action="store_true", help="skip the checks against stack deployments"
    )
    args = parser.parse_args(argv)
    if not args.repo.is_dir():
        print(f"check-models: {args.repo}: no such model repository", file=sys.stderr)
        return 2
    targets: list[Target] = []
    skipped: list[str] = []
    if not args.no_stacks:
        targets, skipped = stack_targets(args.stacks)
    findings = validate(args.repo, targets)
    for note in skipped:
        print(f"check-models: skipped deployment checks of {note}", file=sys.stderr)
    if findings:
        print(f"{args.repo}: {len(findings)} model config error(s):", file=sys.stderr)
        for line in iter_lines(findings):
            print(f"  {line}", file=sys.stderr)
        return 2
    names = model_names(args.repo)
    budgets = latency_budgets(args.repo)
    print(
        f"check-models: {len(names)} models OK ({', '.join(names)}); "
        f"{len(targets)} deployments checked against their pools"
    )
    for name in names:
        print(f"  {name}: p99 latency budget {budgets[name]:g} ms")
    for name in llm_names(args.repo):
        manifest = load_llm(name, args.repo)
        print(f"  {name} (LLM, vLLM): {len(manifest.variants)} variants, p99 budgets:")
        for variant, v in sorted(manifest.variants.items()):
            print(
                f"    {variant}: TTFT {v.slo.ttft_p99_ms:g} ms, ITL {v.slo.itl_p99_ms:g} ms "
                f"({v.device}, version {v.version})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
