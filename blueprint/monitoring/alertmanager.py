"""The Alertmanager configuration: one routing tree, receivers filled in per place of use.

``monitoring/alertmanager/alertmanager.yaml`` holds the routing tree, the
inhibitions and the receivers' names. A fork gives the receivers their
integrations (PagerDuty, Slack, e-mail, a heartbeat URL) with
:func:`with_receivers`; the local stack points every receiver at its webhook
recorder with :func:`with_webhooks`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from blueprint.paths import MONITORING_DIR

CONFIG = MONITORING_DIR / "alertmanager" / "alertmanager.yaml"
ROUTE_CASES = MONITORING_DIR / "alertmanager" / "route_cases.yaml"

INTEGRATION_KEYS = frozenset(
    {
        "email_configs",
        "pagerduty_configs",
        "slack_configs",
        "webhook_configs",
        "opsgenie_configs",
        "msteams_configs",
        "sns_configs",
        "telegram_configs",
        "victorops_configs",
        "pushover_configs",
        "wechat_configs",
        "discord_configs",
        "webex_configs",
    }
)


class ReceiverError(ValueError):
    """A receiver override names a receiver or integration the config does not have."""


def load(path: Path = CONFIG) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    return doc


def receiver_names(config: Mapping[str, Any]) -> list[str]:
    return [r["name"] for r in config["receivers"]]


def with_receivers(
    config: Mapping[str, Any], integrations: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """A copy of ``config`` with integrations added to the named receivers.

    ``integrations`` maps a receiver name to Alertmanager receiver fields, e.g.
    ``{"serving-pager": {"pagerduty_configs": [{"routing_key_file": "/etc/..."}]}}``.
    """
    out = copy.deepcopy(dict(config))
    by_name = {r["name"]: r for r in out["receivers"]}
    for name, fields in integrations.items():
        if name not in by_name:
            raise ReceiverError(
                f"receiver {name!r} is not in {CONFIG.name}; receivers: "
                f"{', '.join(sorted(by_name))}"
            )
        unknown = set(fields) - INTEGRATION_KEYS
        if unknown:
            raise ReceiverError(
                f"receiver {name!r}: unknown integration(s) {', '.join(sorted(unknown))}; "
                f"accepted: {', '.join(sorted(INTEGRATION_KEYS))}"
            )
        for key, value in fields.items():
            by_name[name][key] = [*by_name[name].get(key, []), *copy.deepcopy(list(value))]
    return out


def with_webhooks(config: Mapping[str, Any], base_url: str) -> dict[str, Any]:
    """Every receiver posts to ``<base_url>/<receiver>`` (the local webhook recorder)."""
    return with_receivers(
        config,
        {
            name: {
                "webhook_configs": [
                    {"url": f"{base_url.rstrip('/')}/{name}", "send_resolved": True}
                ]
            }
            for name in receiver_names(config)
        },
    )


def route_cases(path: Path = ROUTE_CASES) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = yaml.safe_load(path.read_text())
    return cases


def dump(config: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(config), sort_keys=False, width=120)
