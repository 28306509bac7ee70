"""Watch the Flink job: record its health as observations, bring it back when it failed or vanished.

Why a sensor: Flink restarts failed tasks by itself (restart strategy), but a job that reached FAILED,
was cancelled, or was lost with the JobManager stays gone. Nobody has to notice: the sensor requests a
`deploy_flink_job` run, which submits the job from its latest retained checkpoint. It holds back
while a deploy or upgrade run is in flight, so it never races the upgrade job's stop-and-start.
"""

import json
import time

import httpx
from dagster import (
    AssetObservation,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    in_process_executor,
    sensor,
)
from dagster._core.errors import DagsterUserCodeUnreachableError
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.storage.tags import GRPC_INFO_TAG
from dagster._grpc.client import DagsterGrpcClient

from flink_jobs.rest import ACTIVE_STATES
from orchestration.resources import FlinkResource
from orchestration.streaming.assets import JOB_ASSET, flink_analytics_job
from orchestration.streaming.flink_status import job_health

deploy_flink_job = define_asset_job(
    "deploy_flink_job",
    selection=[flink_analytics_job],
    description="Make sure the Flink analytics job runs: submit it from its latest retained checkpoint (or a "
    "given checkpoint/savepoint) when no job of its name is active. Launched by the flink_job_health sensor "
    "when the job failed or is missing; safe to launch by hand (a running job is left alone).",
    tags={"domain": "streaming"},
    executor_def=in_process_executor,  # one step: a second process would only add a definitions load (~8 s)
)

IN_FLIGHT = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]
GUARDED_JOBS = ("deploy_flink_job", "upgrade_flink_job")


def operation_in_flight(context: SensorEvaluationContext) -> str | None:
    """Name of a deploy/upgrade run that has not finished yet, if any.

    A run whose code server no longer answers was orphaned by a crash (the daemon and the code server it
    started were killed, e.g. kill -9 mid-deploy): it cannot finish, so it is marked failed here instead of
    holding every later redeploy back forever."""
    for name in GUARDED_JOBS:
        for run in context.instance.get_runs(RunsFilter(job_name=name, statuses=IN_FLIGHT), limit=5):
            if _orphaned(run):
                context.log.warning(f"run {run.run_id} of {name} lost its code server: marking it failed")
                context.instance.report_run_failed(run, "orphaned: its code server is gone (a crash); redeploying")
                continue
            return name
    return None


def _orphaned(run: DagsterRun, attempts: int = 2, pause_s: float = 2.0) -> bool:
    """True when the gRPC code server that launched a started run does not answer, twice.

    With Dagster's default run launcher the run worker is a child of that code server: when the daemon and
    its code server crash, the worker dies with them. (A code server killed alone could leave its worker
    running; the deploy it would race is idempotent: a running job is left alone.)"""
    info = run.tags.get(GRPC_INFO_TAG)
    if run.status not in (DagsterRunStatus.STARTING, DagsterRunStatus.STARTED) or not info:
        return False  # queued runs wait for the (restarted) daemon's queue
    address = json.loads(info)
    client = DagsterGrpcClient(port=address.get("port"), socket=address.get("socket"),
                               host=address.get("host", "localhost"), use_ssl=bool(address.get("use_ssl")))  # fmt: skip
    for attempt in range(attempts):
        try:
            client.ping("")
            return False
        except DagsterUserCodeUnreachableError:
            if attempt + 1 < attempts:
                time.sleep(pause_s)
    return True


# Every tick is one REST call; the interval bounds how long a vanished job stays gone. Observations are
# recorded at most every OBSERVE_EVERY_S, so the event log does not grow with the tick rate.
TICK_S = 10
OBSERVE_EVERY_S = 60


@sensor(
    name="flink_job_health",
    job=deploy_flink_job,
    minimum_interval_seconds=TICK_S,
    default_status=DefaultSensorStatus.RUNNING,
    description="Every 10 s: polls the Flink REST API; every minute it records an observation of "
    "flink_analytics_job (state, last completed checkpoint id/size/duration/age, records in/out, backpressure). "
    "When the job is FAILED, cancelled or missing it launches deploy_flink_job, which resubmits it from the "
    "latest retained checkpoint.",
)
def flink_job_health(context: SensorEvaluationContext, flink: FlinkResource) -> SensorResult | SkipReason:
    busy = operation_in_flight(context)
    if busy:
        return SkipReason(f"A {busy} run is in flight; not interfering.")
    try:
        jobs = flink.rest.jobs_named(flink.job_name)
    except httpx.HTTPError as exc:
        # The cluster itself is down: supervisord (or the platform's orchestrator) restarts it; a submission
        # would fail now. The job is resubmitted on the first tick after the REST API answers again.
        return SkipReason(f"Flink REST API at {flink.rest_url} unreachable ({exc.__class__.__name__}).")
    active = next((j for j in jobs if j["state"] in ACTIVE_STATES), None)
    if active is not None:
        if time.time() - float(context.cursor or 0) < OBSERVE_EVERY_S:
            return SkipReason(f"{flink.job_name} is {active['state']} ({active['jid']}).")
        health = job_health(flink, active["jid"])
        observation = AssetObservation(asset_key=JOB_ASSET, metadata=health)
        return SensorResult(asset_events=[observation], cursor=str(time.time()))
    last = jobs[0] if jobs else None
    state = last["state"] if last else "MISSING"
    reason = f"{flink.job_name} is {state}" + (f" (last job {last['jid']})" if last else "")
    context.log.warning(f"{reason}: requesting a redeploy from the latest retained checkpoint.")
    observation = AssetObservation(
        asset_key=JOB_ASSET, metadata={"state": state, "job_id": last["jid"] if last else "none", "action": "redeploy"}
    )
    request = RunRequest(job_name=deploy_flink_job.name, tags={"streampulse/reason": reason[:200]})
    return SensorResult(run_requests=[request], asset_events=[observation])
