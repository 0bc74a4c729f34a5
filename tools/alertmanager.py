"""Render each stack's Alertmanager configuration and check it with amtool.

``python -m tools.alertmanager [STACK ...] [--out DIR]`` writes ``DIR/<stack>.yml``:
the routing tree of ``monitoring/alertmanager/alertmanager.yaml`` with the stack's
receivers (``blueprint.monitoring.alertmanager.for_stack``), exactly as the program
puts it into the cluster's Secret but with placeholder secrets (the real ones never
leave the stack's encrypted config). It then runs ``amtool check-config`` on each and
every case of ``monitoring/alertmanager/stack_cases.yaml`` with ``amtool config routes
test --verify.receivers``, and checks the integrations each receiver delivers through.
Exit status 0 when all pass, 1 when a check fails, 2 for an invalid stack file.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from blueprint.config import ConfigError, load_stack_file, stack_file
from blueprint.monitoring import alertmanager as am
from blueprint.paths import MONITORING_DIR, STACK_DIR
from tools.promtool import tool

STACK_CASES = MONITORING_DIR / "alertmanager" / "stack_cases.yaml"


def render_stack(stack: str, out_dir: Path, stack_dir: Path = STACK_DIR) -> Path:
    """``out_dir/<stack>.yml``: the stack's configuration with placeholder secrets."""
    cfg = load_stack_file(stack_file(stack, stack_dir))
    if cfg.monitoring is None:
        raise ValueError(f"stack {stack} has no monitoring section")
    mon = cfg.monitoring
    config = am.for_stack(am.load(), mon, am.placeholder_secrets(mon))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stack}.yml"
    path.write_text(am.dump(config))
    return path


def stack_cases(path: Path = STACK_CASES) -> dict[str, list[dict[str, Any]]]:
    doc: dict[str, list[dict[str, Any]]] = yaml.safe_load(path.read_text())
    return doc


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("amtool"), *args], capture_output=True, text=True, check=False)


@dataclass(frozen=True)
class Failure:
    stack: str
    what: str


def check_stack(path: Path, stack: str, cases: Iterable[Mapping[str, Any]]) -> list[Failure]:
    """amtool check-config, then each case: its receivers (amtool) and their integrations."""
    failures = []
    checked = amtool("check-config", str(path))
    if checked.returncode != 0:
        failures.append(Failure(stack, f"amtool check-config: {checked.stdout}{checked.stderr}"))
        return failures
    config = yaml.safe_load(path.read_text())
    for case in cases:
        labels = [f"{k}={v}" for k, v in case["labels"].items()]
        result = amtool(
            "config", "routes", "test", f"--config.file={path}",
            f"--verify.receivers={','.join(case['receivers'])}", *labels,
        )  # fmt: skip
        if result.returncode != 0:
            failures.append(
                Failure(stack, f"{' '.join(labels)}: {result.stdout.strip()} {result.stderr}")
            )
            continue
        for receiver in case["receivers"]:
            got = am.integrations(config, receiver)
            if got != sorted(case["via"]):
                failures.append(
                    Failure(
                        stack,
                        f"{' '.join(labels)}: {receiver} delivers through {got or 'nothing'}, "
                        f"the case says {sorted(case['via'])}",
                    )
                )
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.alertmanager", description=__doc__.splitlines()[0]
    )
    parser.add_argument("stacks", nargs="*", help="stacks (default: those stack_cases.yaml has)")
    parser.add_argument("--out", type=Path, help="keep the rendered configurations here")
    args = parser.parse_args(argv)
    cases = stack_cases()
    stacks = args.stacks or sorted(cases)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        failures: list[Failure] = []
        for stack in stacks:
            try:
                path = render_stack(stack, out)
            except ConfigError as exc:
                print(str(exc), file=sys.stderr)
                return 2
            failures += check_stack(path, stack, cases.get(stack, []))
            print(f"{stack}: {path.name}, {len(cases.get(stack, []))} route cases")
    for failure in failures:
        print(f"FAIL {failure.stack}: {failure.what}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
