"""Rules about alerting: every receiver the stack configures can deliver."""

from __future__ import annotations

from collections.abc import Iterator

from blueprint.config.errors import ConfigIssue
from blueprint.config.rules.base import rule
from blueprint.schema import StackConfig


@rule
def alert_email_needs_a_relay(cfg: StackConfig) -> Iterator[ConfigIssue]:
    mon = cfg.monitoring
    if mon is None:
        return
    if mon.alert_emails and mon.smtp is None:
        yield ConfigIssue(
            ("monitoring", "alertEmails"),
            "Alertmanager needs an SMTP relay to send these: set monitoring.smtp "
            "{smarthost, from, username} (and the secret llm-inference:alertSmtpPassword), "
            "or remove alertEmails",
            list(mon.alert_emails),
        )
    if mon.smtp is not None and not mon.alert_emails:
        yield ConfigIssue(
            ("monitoring", "smtp"),
            "is set but monitoring.alertEmails is empty, so no e-mail would be sent: "
            "add the addresses or remove smtp",
        )
