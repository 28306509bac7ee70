"""`streampulse stack ...`: start, stop and inspect the local StreamPulse stack.

streampulse stack up            everything: Kafka, registry, Flink + job, PostgreSQL, apps
streampulse stack up --core     only what the tests need (Kafka, registry, Flink, PostgreSQL)
streampulse stack status        one line per component
streampulse stack down          stop everything, leave no process behind (data is kept)
"""

from __future__ import annotations

import logging
import subprocess
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from streampulse.settings import Settings, get_settings
from streampulse.stack import StackError, first_run
from streampulse.stack.components import APPS, CORE, Component, build_components
from streampulse.stack.preflight import check_ports_free, find_java
from streampulse.stack.supervisor import Supervisor, render_config

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
console = Console(stderr=True, soft_wrap=True)
log = logging.getLogger("streampulse.stack")


def _components(settings: Settings, core_only: bool) -> list[Component]:
    java = find_java()
    everything = build_components(settings, java)
    return [c for c in everything if c.group == CORE] if core_only else everything


def wait_healthy(component: Component, supervisor: Supervisor) -> float:
    """Poll the component's health check until it passes; fail fast if its process dies."""
    started = time.monotonic()
    deadline = started + component.timeout_s
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        info = supervisor.info(component.name)
        if info and info["statename"] in ("FATAL", "EXITED", "BACKOFF"):
            raise StackError(
                f"{component.title} exited while starting ({info['statename']}: {info.get('spawnerr') or 'see log'}); "
                f"read {component.logs_to_read}"
            )
        try:
            component.health()
            # RUNNING means supervisord saw the process survive its first seconds.
            if info and info["statename"] == "RUNNING":
                return time.monotonic() - started
            last_error = "process not yet past its start-up seconds"
        except Exception as exc:  # noqa: BLE001 - any failure means "not healthy yet"
            last_error = str(exc) or type(exc).__name__
        time.sleep(0.5)
    raise StackError(
        f"{component.title} was not healthy after {component.timeout_s:.0f} s (last check: {last_error}); "
        f"read {component.logs_to_read}"
    )


def bring_up(settings: Settings, core_only: bool, submit_job: bool = True) -> list[Component]:
    """Start (or reuse) every component in order, wait for each, then bootstrap topics, databases, job."""
    from flink_jobs.deploy import ensure_running
    from streampulse import bootstrap

    components = _components(settings, core_only)
    supervisor = Supervisor(settings)
    current = supervisor.all_info()
    to_check = {
        c.title: (c.port, c.port_setting)
        for c in components
        if c.port and current.get(c.name, {}).get("statename") not in ("RUNNING", "STARTING")
    }
    check_ports_free(settings.bind_host, to_check)  # type: ignore[arg-type]
    total = time.monotonic()
    for c in components:
        if c.prepare:
            c.prepare()
    render_config(settings, _components(settings, core_only=False))
    supervisor.start_daemon()
    history_end = None
    for c in components:
        if c.group == APPS and c.name == "dagster-webserver":
            # Everything the apps read must exist before they start.
            bootstrap.bootstrap_platform(settings)
            if submit_job:
                ensure_running(settings)  # the stack may call the deploy step
        if c.name == "generator" and (supervisor.info(c.name) or {}).get("statename") != "RUNNING":
            with console.status("generating demo history ..."):
                history_end = first_run.backfill_demo(settings, console.print)
        with console.status(f"starting {c.title} ..."):
            supervisor.start(c.name)
            took = wait_healthy(c, supervisor)
        console.print(f"[green]✔[/] {c.title:<28} healthy in {took:5.1f} s   log: {c.log_file}")
    if core_only:
        bootstrap.bootstrap_platform(settings)
    else:
        with console.status("building the BI marts ..."):
            first_run.build_warehouse(settings, console.print, history_end)
    console.print(f"All {len(components)} components healthy in {time.monotonic() - total:.1f} s.")
    return components


@app.command()
def up(
    core: Annotated[bool, typer.Option("--core", help="Only Kafka, registry, Flink and PostgreSQL.")] = False,
    no_job: Annotated[bool, typer.Option("--no-job", help="Do not submit the Flink job.")] = False,
) -> None:
    """Start the stack (idempotent: running components are reused) and print the URLs."""
    settings = get_settings()
    try:
        components = bring_up(settings, core_only=core, submit_job=not no_job)
    except StackError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(exc.exit_code) from None
    _print_urls(settings, components)


@app.command()
def down() -> None:
    """Stop every process of the stack and supervisord itself. Data stays in the state directory."""
    settings = get_settings()
    supervisor = Supervisor(settings)
    if not supervisor.running():
        console.print("The stack is not running.")
        return
    running = list(supervisor.all_info())
    # Apps first, then the core in reverse dependency order; programs this version does not know last.
    known = [c.name for c in build_components(settings, find_java())]
    order = [n for n in reversed(known) if n in running] + [n for n in running if n not in known]
    for name in order:
        with console.status(f"stopping {name} ..."):
            supervisor.stop(name)
        console.print(f"[green]✔[/] stopped {name}")
    supervisor.shutdown()
    console.print("Stack stopped.")


@app.command()
def status() -> None:
    """One line per component: process state, health, address, log file."""
    settings = get_settings()
    supervisor = Supervisor(settings)
    if not supervisor.running():
        console.print("The stack is not running: start it with `make up`.")
        raise typer.Exit(3)
    info = supervisor.all_info()
    table = Table("component", "process", "health", "address", "log")
    unhealthy = 0
    for c in build_components(settings, find_java()):
        state = info.get(c.name, {}).get("statename", "not started")
        health = "-"
        if state == "RUNNING":
            try:
                c.health()
                health = "[green]healthy[/]"
            except Exception as exc:  # noqa: BLE001
                health = f"[red]unhealthy[/]: {str(exc)[:60]}"
                unhealthy += 1
        table.add_row(c.title, state, health, c.url or "", str(c.log_file.relative_to(settings.state_dir)))
    Console(width=max(Console().width, 140)).print(table)
    for label, external, endpoint in (
        ("Kafka", settings.kafka_external, settings.bootstrap_servers),
        ("Schema registry", settings.registry_external, settings.registry_url),
        ("Flink", settings.flink_external, settings.flink_url),
        ("PostgreSQL", settings.database_external, "DATABASE_URL"),
    ):
        if external:
            console.print(f"{label}: external ({endpoint})")
    raise typer.Exit(1 if unhealthy else 0)


@app.command()
def logs(
    component: Annotated[str, typer.Argument(help="Component name, e.g. kafka, flink-jobmanager, api.")],
    lines: Annotated[int, typer.Option("-n", help="How many lines from the end.")] = 50,
) -> None:
    """Print the end of a component's log file."""
    settings = get_settings()
    names = {c.name: c for c in build_components(settings, find_java())}
    if component not in names:
        console.print(f"[red]error:[/] unknown component {component!r}; choose from: {', '.join(names)}")
        raise typer.Exit(2)
    subprocess.run(["tail", "-n", str(lines), str(names[component].log_file)], check=False)


def _print_urls(settings: Settings, components: list[Component]) -> None:
    names = {c.name for c in components}
    rows = [
        ("Dagster (operations)", f"http://{settings.bind_host}:{settings.dagster_port}", "dagster-webserver"),
        ("Analyst dashboard", f"http://{settings.bind_host}:{settings.dashboard_port}", "dashboard"),
        ("REST API docs", f"http://{settings.bind_host}:{settings.api_port}/docs", "api"),
        ("Flink Web UI", settings.flink_url, "flink-jobmanager"),
        ("Schema registry", settings.registry_url, "registry"),
        ("Kafka bootstrap", settings.bootstrap_servers, "kafka"),
    ]
    for label, url, name in rows:
        if name in names:
            print(f"{label:<22} {url}")
