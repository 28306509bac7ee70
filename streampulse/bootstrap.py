"""Make the platform's shared state exist: databases, tables, Kafka topics, the running Flink job.

Idempotent: `stack up` calls it every time, tests call it for their own isolated database/topic.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from streampulse.settings import REPO_ROOT, Settings

log = logging.getLogger(__name__)

# Idempotent DDL, in data-flow order: what the generator publishes, what Flink writes, the API's own.
MIGRATION_DIRS = [
    REPO_ROOT / "generator" / "postgres",
    REPO_ROOT / "flink_jobs" / "postgres",
    REPO_ROOT / "api" / "postgres",
    REPO_ROOT / "notifier" / "postgres",  # after the API: it grants the API's reader role the delivery log
]


def ensure_database(settings: Settings, name: str) -> None:
    with psycopg.connect(settings.dsn("postgres"), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
            log.info("created database %s", name)


def apply_migrations(settings: Settings, database: str | None = None) -> None:
    """Create the platform's tables (the `*.sql` files of MIGRATION_DIRS, each folder in name order)."""
    with psycopg.connect(settings.dsn(database), autocommit=True) as conn:
        for folder in MIGRATION_DIRS:
            for path in sorted(folder.glob("*.sql")):
                conn.execute(path.read_text())


def ensure_topic(settings: Settings, name: str, partitions: int | None = None) -> None:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    # Retention is explicit: it is the replay horizon (how far back flink_jobs.replay can reprocess).
    retention = {
        "retention.ms": str(int(settings.events_retention_hours * 3_600_000)),
        "min.insync.replicas": str(settings.kafka_min_insync_replicas),
    }
    if name in admin.list_topics(timeout=10).topics:
        from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

        resource = ConfigResource(
            ConfigResource.Type.TOPIC,
            name,
            incremental_configs=[
                ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in retention.items()
            ],
        )
        admin.incremental_alter_configs([resource])[resource].result(timeout=30)
        return
    futures = admin.create_topics(
        [
            NewTopic(
                name,
                partitions or settings.events_topic_partitions,
                settings.kafka_replication_factor,
                config=retention,
            )
        ]
    )
    try:
        futures[name].result(timeout=30)
        log.info("created topic %s", name)
    except KafkaException as exc:
        if "TOPIC_ALREADY_EXISTS" not in str(exc):
            raise


def ensure_registry_compatibility(settings: Settings, level: str = "BACKWARD") -> None:
    """Every subject evolves compatibly: new schemas must read data written with the older ones."""
    import httpx

    response = httpx.put(f"{settings.registry_url}/config", json={"compatibility": level}, timeout=10)
    response.raise_for_status()


def bootstrap_platform(settings: Settings) -> None:
    ensure_database(settings, settings.database_name)
    ensure_database(settings, "dagster")
    apply_migrations(settings)
    ensure_topic(settings, settings.events_topic)
    ensure_topic(settings, settings.alerts_topic)
    ensure_registry_compatibility(settings)
