"""``AlertConfiguration`` (Azure's ``azureml.datadrift.AlertConfiguration``): who hears of drift.

A window whose drift magnitude exceeds the monitor's ``drift_threshold`` calls an Airflow notifier
from the task that computed it: the SMTP provider's ``SmtpNotifier`` to the e-mail addresses (over
the ``smtp_default`` connection, or ``smtp_conn_id``), or any ``airflow.sdk.BaseNotifier`` given as
``notifier`` (Slack, a webhook...). The notifier's context has ``mlw_drift``: the monitor's name,
the window, the magnitude, the threshold and the per-feature contributions.
"""

from __future__ import annotations

import base64
import pickle
from typing import Any

from airflow_mlw.exceptions import MlwError


class AlertConfiguration:
    """Where drift alerts go.

    :param email_addresses: addresses an e-mail goes to (Azure's argument)
    :param notifier: an Airflow notifier (``airflow.sdk.BaseNotifier``) called instead of e-mail
    :param smtp_conn_id: the Airflow SMTP connection the e-mails go through
    """

    def __init__(
        self,
        email_addresses: list[str] | str | None = None,
        notifier: Any = None,
        smtp_conn_id: str = "smtp_default",
    ) -> None:
        addresses = [email_addresses] if isinstance(email_addresses, str) else list(email_addresses or [])
        if not addresses and notifier is None:
            raise MlwError("AlertConfiguration needs email_addresses or a notifier")
        if notifier is not None and not callable(notifier):
            raise MlwError(f"notifier must be an Airflow notifier (BaseNotifier), not {notifier!r}")
        self.email_addresses = addresses
        self.notifier = notifier
        self.smtp_conn_id = smtp_conn_id

    def to_json(self) -> dict[str, Any]:
        """What the registry keeps: the addresses, and the notifier pickled (it runs in the task)."""
        notifier = None
        if self.notifier is not None:
            try:
                notifier = base64.b64encode(pickle.dumps(self.notifier)).decode()
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                raise MlwError(f"the alert's notifier cannot be stored: {exc}") from exc
        return {
            "email_addresses": self.email_addresses,
            "notifier": notifier,
            "smtp_conn_id": self.smtp_conn_id,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> AlertConfiguration | None:
        if not value:
            return None
        notifier = value.get("notifier")
        return cls(
            value.get("email_addresses"),
            pickle.loads(base64.b64decode(notifier)) if notifier else None,
            value.get("smtp_conn_id") or "smtp_default",
        )

    def make_notifier(self, drift: dict[str, Any]) -> Any:
        """The notifier to call for ``drift`` (the ``mlw_drift`` of the context)."""
        if self.notifier is not None:
            return self.notifier
        try:
            from airflow.providers.smtp.notifications.smtp import SmtpNotifier
        except ImportError:
            raise MlwError(
                "e-mail drift alerts need the SMTP provider: pip install 'airflow-mlw[datadrift]'"
            ) from None
        # Raw: the texts are not Jinja templates (a feature name may hold braces).
        subject = (
            f"Data drift in {drift['monitor']}: magnitude {drift['magnitude']:.3f} > {drift['threshold']}"
        )
        lines = "".join(
            f"<li>{name}: {share:.1%}</li>" for name, share in sorted(drift["contributions"].items())
        )
        body = (
            f"<p>Monitor <b>{drift['monitor']}</b>, window {drift['window_start']} to {drift['window_end']}: "
            f"drift magnitude {drift['magnitude']:.3f} exceeds the threshold {drift['threshold']}.</p>"
            f"<p>Contribution per feature:</p><ul>{lines}</ul>"
        )
        return SmtpNotifier(
            to=self.email_addresses,
            subject="{% raw %}" + subject + "{% endraw %}",
            html_content="{% raw %}" + body + "{% endraw %}",
            smtp_conn_id=self.smtp_conn_id,
        )

    def __repr__(self) -> str:
        return f"AlertConfiguration(email_addresses={self.email_addresses!r})"


def fire(alert: AlertConfiguration, context: dict[str, Any], drift: dict[str, Any]) -> None:
    """Call the alert's notifier with the task's context and ``mlw_drift``."""
    notifier = alert.make_notifier(drift)
    notifier({**context, "mlw_drift": drift})
