"""The Alertmanager configuration: one routing tree, receivers filled in per place of use.

``monitoring/alertmanager/alertmanager.yaml`` holds the routing tree, the
inhibitions and the receivers' names. A stack's receivers (``monitoring.alertEmails``
with ``monitoring.smtp``, ``monitoring.paging``, ``monitoring.chat``) give them their
integrations with :func:`for_stack`: :data:`CHANNELS` says which channels each
receiver of the tree delivers through, so the tree itself is never repeated. A fork
can add more with :func:`with_receivers`; the local stack points every receiver at
its webhook recorder with :func:`with_webhooks`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from blueprint.paths import MONITORING_DIR
from blueprint.schema import MonitoringConfig, PagingKind

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


# ---------------------------------------------------------------------------
# A stack's receivers

EMAIL, PAGING, CHAT = "email", "paging", "chat"

CHANNELS: Mapping[str, tuple[str, ...]] = {
    # Nothing claimed it: a new alert without severity or team; mail it, never drop it.
    "unrouted": (EMAIL,),
    # The dead man's switch fires all the time: a null receiver unless a fork gives it
    # a heartbeat service (with_receivers).
    "heartbeat": (),
    # severity critical: wake someone up, and leave a trace in the mailbox.
    "serving-pager": (PAGING, EMAIL),
    "platform-pager": (PAGING, EMAIL),
    # severity warning: a ticket in the team's channel, and the mailbox.
    "serving-ticket": (CHAT, EMAIL),
    "platform-ticket": (CHAT, EMAIL),
    # Spend never pages: the channel and the mailbox, whatever the severity.
    "finops": (CHAT, EMAIL),
}
"""Receiver of alertmanager.yaml -> the channels it delivers through, where the stack
has them (a stack without chat sends tickets by e-mail only)."""

SMTP_PASSWORD = "alertSmtpPassword"  # noqa: S105 (a config key's name)
PAGERDUTY_KEY = "alertPagerdutyRoutingKey"
PAGING_URL = "alertPagingWebhookUrl"
SLACK_URL = "alertSlackWebhookUrl"


class MissingSecret(ReceiverError):
    """A receiver the stack configures needs a stack secret that is not set."""

    def __init__(self, key: str, why: str) -> None:
        self.key = key
        super().__init__(
            f"{why} needs the stack secret llm-inference:{key}, which is not set; set it "
            f"with `pulumi config set --secret llm-inference:{key} <value>` "
            "(monitoring/README.md, Receivers)"
        )


def required_secrets(mon: MonitoringConfig) -> dict[str, str]:
    """The stack secrets the configured receivers need: key -> the setting that needs it."""
    out: dict[str, str] = {}
    if mon.alert_emails and mon.smtp is not None and mon.smtp.username is not None:
        out[SMTP_PASSWORD] = "monitoring.smtp.username"
    if mon.paging is not None:
        key = PAGERDUTY_KEY if mon.paging.kind is PagingKind.PAGERDUTY else PAGING_URL
        out[key] = f"monitoring.paging (kind {mon.paging.kind.value})"
    if mon.chat is not None:
        out[SLACK_URL] = "monitoring.chat"
    return out


def placeholder_secrets(mon: MonitoringConfig) -> dict[str, str]:
    """Stand-ins for :func:`required_secrets` with the shapes Alertmanager checks (URLs
    for URLs), for ``amtool check-config`` on a stack's configuration; never deployed."""
    return {
        key: f"https://alerting.invalid/placeholder/{key}"
        if key.endswith("Url")
        else f"placeholder-{key}"
        for key in required_secrets(mon)
    }


def channels(mon: MonitoringConfig) -> frozenset[str]:
    """The channels the stack has."""
    have = set()
    if mon.alert_emails and mon.smtp is not None:
        have.add(EMAIL)
    if mon.paging is not None:
        have.add(PAGING)
    if mon.chat is not None:
        have.add(CHAT)
    return frozenset(have)


def for_stack(
    config: Mapping[str, Any], mon: MonitoringConfig, secrets: Mapping[str, str]
) -> dict[str, Any]:
    """``config`` with the stack's receivers: e-mail (SMTP in ``global``), paging and chat
    added to each receiver as :data:`CHANNELS` says. ``secrets`` holds the values of
    :func:`required_secrets` (raises :class:`MissingSecret` when one is not there)."""
    for key, why in required_secrets(mon).items():
        if not secrets.get(key):
            raise MissingSecret(key, why)
    have = channels(mon)
    integration: dict[str, tuple[str, dict[str, Any]]] = {}
    out = copy.deepcopy(dict(config))
    if EMAIL in have and mon.smtp is not None:
        smtp = mon.smtp
        out["global"] = {
            **out.get("global", {}),
            "smtp_smarthost": smtp.smarthost,
            "smtp_from": smtp.from_,
            "smtp_require_tls": smtp.require_tls,
        }
        if smtp.username is not None:
            out["global"]["smtp_auth_username"] = smtp.username
            out["global"]["smtp_auth_password"] = secrets[SMTP_PASSWORD]
        to = ", ".join(mon.alert_emails)
        integration[EMAIL] = ("email_configs", {"to": to, "send_resolved": True})
    if mon.paging is not None:
        if mon.paging.kind is PagingKind.PAGERDUTY:
            page = {"routing_key": secrets[PAGERDUTY_KEY], "send_resolved": True}
            integration[PAGING] = ("pagerduty_configs", page)
        else:
            integration[PAGING] = (
                "webhook_configs",
                {"url": secrets[PAGING_URL], "send_resolved": True},
            )
    if mon.chat is not None:
        integration[CHAT] = (
            "slack_configs",
            {"api_url": secrets[SLACK_URL], "channel": mon.chat.channel, "send_resolved": True},
        )
    unknown = set(receiver_names(out)) - set(CHANNELS)
    if unknown:
        raise ReceiverError(
            f"receiver(s) {', '.join(sorted(unknown))} of {CONFIG.name} have no entry in "
            "blueprint.monitoring.alertmanager.CHANNELS: say which channels they deliver through"
        )
    fields: dict[str, dict[str, list[Any]]] = {}
    for name in receiver_names(out):
        for channel in CHANNELS[name]:
            if channel in integration:
                key, value = integration[channel]
                fields.setdefault(name, {}).setdefault(key, []).append(value)
    return with_receivers(out, fields)


def integrations(config: Mapping[str, Any], receiver: str) -> list[str]:
    """The integration kinds (``email``, ``pagerduty``, ``slack``, ``webhook``) a receiver
    of ``config`` delivers through, sorted; empty for a null receiver."""
    (found,) = [r for r in config["receivers"] if r["name"] == receiver]
    return sorted(k.removesuffix("_configs") for k in found if k.endswith("_configs"))
