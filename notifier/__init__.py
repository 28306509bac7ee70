"""Alert notifications: a read_committed consumer of the alerts topic routes each opened and resolved CDN
anomaly to webhooks, Slack-compatible webhooks and email, through an outbox table (`notifier.deliveries`).

`python -m notifier run` is the service (`streampulse stack up` starts it); docs/notifications.md describes
the rules file and the delivery guarantees.
"""
