"""Exec a command with the Dagster storage URL in its environment.

The stack starts Dagster through this wrapper so the database password never sits in a config file
or on a command line: it is read from the state directory's secrets when the process starts.
Usage: python -m streampulse.stack.with_db_env COMMAND [ARGS...]
"""

from __future__ import annotations

import os
import sys

from streampulse.settings import get_settings


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: python -m streampulse.stack.with_db_env COMMAND [ARGS...]")
    # dagster-postgres is written for psycopg2; SQLAlchemy 2.1 would pick psycopg 3 for a plain URL.
    url = get_settings().dsn("dagster").replace("postgresql://", "postgresql+psycopg2://", 1)
    os.environ["STREAMPULSE_DAGSTER_PG_URL"] = url
    os.execvp(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()
