"""Observability as code: alert rules, their facts, the exporters' metric names,
Alertmanager routing, Grafana dashboards, and the checks that tie them together.

The sources live in ``monitoring/`` (rule files, the SLO table, the exporter metric
lists, the Alertmanager routing tree, promtool tests) and ``runbooks/``; this
package loads, renders and checks them for the three places they are used: the
clusters (``components/k8s/monitoring.py``), the promtool tests, and the local
Prometheus and Alertmanager (``tools/local``).
"""

from __future__ import annotations

from blueprint.paths import MONITORING_DIR

RULES_DIR = MONITORING_DIR / "rules"
