"""Where the repository's folders are: the one place a path to them is computed.

The domain library, the composition, the tools and the tests all read the model
repository, the stack files, the monitoring sources and the runbooks from here.
``BLUEPRINT_ROOT`` points them at another checkout (a fork's CI, an installed
package run against a working tree); by default it is the folder that holds this
package.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

REPO_ROOT: Final = Path(
    os.environ.get("BLUEPRINT_ROOT") or Path(__file__).resolve().parents[1]
).resolve()
"""The repository checkout."""

MODEL_REPO: Final = REPO_ROOT / "model_repo"
"""The Triton model repository (``<model>/config.pbtxt``, version folders, variants)."""
STACK_DIR: Final = REPO_ROOT / "stacks"
"""The composition root and the stack files (``Pulumi.<stack>.yaml``)."""
MONITORING_DIR: Final = REPO_ROOT / "monitoring"
"""Alert rules, the SLO table, exporter metric lists, Alertmanager routing, promtool tests."""
RUNBOOKS_DIR: Final = REPO_ROOT / "runbooks"
"""One runbook per alert, named exactly as the alert."""
BUILD_DIR: Final = REPO_ROOT / "build"
"""Everything generated (ignored by git): plans, staged artifacts, benchmark output."""
ARTIFACT_DIR: Final = BUILD_DIR / "model-artifacts"
"""Staged model weights and the SageMaker tarballs the model stores upload."""
UPSTREAM_FACTS_DIR: Final = REPO_ROOT.parent / "shared" / "upstream"
"""The upstream facts ``make conformance`` reads by default (``$UPSTREAM_FACTS`` wins)."""
CATALOG_DIR: Final = Path(__file__).resolve().parent / "catalog"
"""The hardware and price tables (package data: they travel with the library)."""


def display_path(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it (for messages)."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
