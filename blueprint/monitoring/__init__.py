"""Observability as code: alert rules, their facts, the exporters' metric names,
Alertmanager routing, Grafana dashboards, and the checks that tie them together.

The sources live in ``monitoring/`` (rule files, the SLO table, the exporter metric
lists, the Alertmanager routing tree, promtool tests) and ``runbooks/``; this
package loads, renders and checks them for the three places they are used: the
clusters (``components/k8s/monitoring.py``), the promtool tests, and the local
Prometheus and Alertmanager (``blueprint/local``).
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MONITORING_DIR = REPO_ROOT / "monitoring"
RULES_DIR = MONITORING_DIR / "rules"
RUNBOOKS_DIR = REPO_ROOT / "runbooks"
