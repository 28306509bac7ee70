"""The classpath of the local Flink cluster and of the PyFlink client: Flink's own jars plus the connectors.

With the third-party connectors (Kafka, JDBC, Avro registry: 33 MB) on the cluster's classpath, a submission
ships only StreamPulse's own small jar: no upload to the JobManager, no copy in the HA store, no download by
each TaskManager, and the restored tasks use classes the TaskManager has already loaded and compiled, instead
of a fresh class loader per job. That is how production images carry connectors (`lib/`); for a cluster
without them, `flink_connectors_on_cluster=false` ships every jar with the job as before.
"""

from __future__ import annotations

import os
from pathlib import Path

from streampulse.settings import Settings


def flink_home() -> Path:
    """The Flink distribution inside the PyFlink package (bin/, lib/, conf/)."""
    import pyflink

    return Path(pyflink.__file__).parent


def lib_folder(settings: Settings) -> Path:
    """FLINK_LIB_DIR of the local JobManager and TaskManagers, and of the client when it ships no connectors."""
    return settings.data_dir / "flink" / "lib"


def link_classpath(settings: Settings) -> Path:
    """`lib_folder`, made or brought up to date: links to Flink's lib/ jars and the connectors (links that
    are wrong or no longer wanted go)."""
    folder = lib_folder(settings)
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {p.name: p.resolve() for p in (flink_home() / "lib").glob("*.jar")}
    wanted |= {p.name: p.resolve() for p in settings.flink_cluster_jars()}
    for entry in folder.iterdir():
        if entry.name.startswith("."):  # another caller's link in the making
            continue
        if entry.name not in wanted or not entry.is_symlink() or entry.resolve() != wanted[entry.name]:
            entry.unlink()
    for name, target in wanted.items():
        link = folder / name
        if not link.is_symlink():
            temporary = folder / f".{name}.{os.getpid()}"  # a concurrent caller never sees a half-made link
            temporary.unlink(missing_ok=True)
            temporary.symlink_to(target)
            os.replace(temporary, link)
    return folder
