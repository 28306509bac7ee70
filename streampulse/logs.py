"""One logging set-up for every StreamPulse command: each line names its component (the logger name).

Logs go to stderr (supervisord writes them to the component's file under .state/logs/), so stdout stays
free for what a command prints on purpose (a key, a job id as JSON).
"""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# Chatty libraries: a request per poll would drown the lines that matter.
QUIET = ("httpx", "httpcore", "urllib3")


def setup_logging(level: int = logging.INFO) -> None:
    """Configure the root logger once per process: level, a format naming the component, quiet libraries."""
    logging.basicConfig(level=level, format=FORMAT, datefmt="%Y-%m-%dT%H:%M:%S")
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
