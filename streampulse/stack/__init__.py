"""The local stack: Kafka, schema registry, Flink, PostgreSQL and the apps, under supervisord."""


class StackError(RuntimeError):
    """A stack operation failed; the message says what failed and which file to read."""

    exit_code = 1


class PreflightError(StackError):
    """Something the stack needs is missing or taken (Java, a port)."""

    exit_code = 2
