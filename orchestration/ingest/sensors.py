"""Keep the continuous demo generator alive.

supervisord owns the demo generator process (`streampulse stack up` starts it, `stack down` stops it,
its log is logs/generator.log). supervisord itself only retries a crash a few times and never restarts
a program that exited; this sensor notices a generator that died (EXITED or FATAL) and starts it again
through supervisord's XML-RPC interface. A generator an operator STOPPED on purpose is left alone.
"""

from dagster import (
    AssetObservation,
    DefaultSensorStatus,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

DEMO_PROGRAM = "generator"
DEAD_STATES = {"EXITED", "FATAL"}


def demo_generator_action(state: str | None) -> str | None:
    """What to do about the demo generator in this supervisord state: 'restart' or nothing."""
    return "restart" if state in DEAD_STATES else None


@sensor(
    name="demo_generator_alive",
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Watchdog of the continuous demo generator (a supervisord program of the local stack): restarts "
    "it when it died (EXITED/FATAL); leaves it alone when an operator stopped it. Each restart is recorded as "
    "an observation of content_events_topic.",
)
def demo_generator_alive(context: SensorEvaluationContext) -> SensorResult | SkipReason:
    from streampulse.settings import get_settings
    from streampulse.stack.supervisor import Supervisor

    supervisor = Supervisor(get_settings())
    if not supervisor.running():
        return SkipReason("No local supervisord: the demo generator is not managed by this stack.")
    info = supervisor.info(DEMO_PROGRAM)
    state = info["statename"] if info else None
    if demo_generator_action(state) != "restart":
        return SkipReason(f"Demo generator is {state or 'not configured'}: nothing to do.")
    context.log.warning(f"Demo generator is {state} (exit status {info.get('exitstatus')}): restarting it.")
    supervisor.start(DEMO_PROGRAM)
    return SensorResult(
        asset_events=[
            AssetObservation(
                asset_key="content_events_topic",
                metadata={"demo_generator": "restarted", "was": state, "exit_status": info.get("exitstatus")},
            )
        ]
    )
