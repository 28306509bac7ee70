"""The notifier's delivery log as an asset with a check: deliveries that failed, or that lag."""

from dagster import AssetCheckResult, AssetCheckSeverity, AssetKey, AssetSpec, MetadataValue, asset_check

from notifier.service import GROUP_ID
from orchestration.resources import KafkaResource, PostgresResource
from orchestration.streaming.assets import JOB_ASSET
from streampulse.settings import get_settings

DELIVERIES = AssetKey(["notifier", "deliveries"])
# A notification still unsent this long after it was recorded is lagging (its receiver has been failing for
# a while; retries back off up to 5 minutes by default).
LAG_BOUND_S = 600

deliveries_table = AssetSpec(
    key=DELIVERIES,
    deps=[JOB_ASSET],
    group_name="notifications",
    kinds={"postgres"},
    description="notifier.deliveries: every alert notification per channel (the Flink job's alerts topic, routed by "
    "the notifications file), with status, attempts and last error. Written and sent by the notifier process.",
)


@asset_check(
    asset=DELIVERIES,
    description=f"No delivery failed for good in the last 24 h, none has waited more than {LAG_BOUND_S} s to be "
    "sent, and the notifier's consumer group is not behind on the alerts topic by more than "
    "STREAMPULSE_MAX_CONSUMER_LAG records.",
)
def deliveries_healthy(postgres: PostgresResource, kafka: KafkaResource) -> AssetCheckResult:
    with postgres.connect() as conn:
        failed, lagging, oldest_s = conn.execute(
            """
            select count(*) filter (where status = 'failed' and coalesce(last_attempt_at, created_at)
                                                              > now() - interval '24 hours'),
                   count(*) filter (where status = 'pending' and created_at < now() - make_interval(secs => %s)),
                   extract(epoch from now() - min(created_at) filter (where status = 'pending'))
            from notifier.deliveries
            """,
            (LAG_BOUND_S,),
        ).fetchone()
        examples = conn.execute(
            """
            select idempotency_key || ' -> ' || channel || ': ' || coalesce(last_error, status)
            from notifier.deliveries
            where status = 'failed' or (status = 'pending' and created_at < now() - make_interval(secs => %s))
            order by id desc limit 5
            """,
            (LAG_BOUND_S,),
        ).fetchall()
    try:
        behind = sum(p.behind for p in kafka.consumer_lag(GROUP_ID, kafka.alerts_topic))
    except LookupError:  # no alerts topic yet: nothing to be behind on
        behind = 0
    max_lag = get_settings().max_consumer_lag
    passed = failed == 0 and lagging == 0 and behind <= max_lag
    return AssetCheckResult(
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        description=None
        if passed
        else "; ".join(e[0] for e in examples) or f"the notifier is {behind} alert records behind",
        metadata={
            "failed_24h": int(failed),
            "lagging": int(lagging),
            "oldest_pending_s": MetadataValue.float(float(oldest_s)) if oldest_s is not None else 0.0,
            "consumer_records_behind": int(behind),
            "lag_bound_s": LAG_BOUND_S,
        },
    )
