"""The one way StreamPulse waits for something to become true (tenacity underneath).

Every stage polls: until a job runs, a savepoint completes, a port answers, rows land. One helper keeps
the deadline, the interval and the error message the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryError, Retrying, retry_if_exception_type, retry_if_result, stop_after_delay, wait_fixed

T = TypeVar("T")


def wait_until(
    probe: Callable[[], T],
    what: str,
    timeout_s: float,
    interval_s: float = 1.0,
    retry_on: tuple[type[BaseException], ...] = (),
) -> T:
    """Call `probe` every `interval_s` until it returns a truthy value, and return that value.

    An exception of a type in `retry_on` (a REST hiccup, a refused connection) counts as "not yet"; any
    other exception stops the wait at once. After `timeout_s`: TimeoutError naming `what` (and the last
    error, when the probe kept failing)."""
    retrying = Retrying(
        stop=stop_after_delay(timeout_s),
        wait=wait_fixed(interval_s),
        retry=retry_if_result(lambda value: not value) | retry_if_exception_type(retry_on),
    )
    try:
        return retrying(probe)
    except RetryError as exc:
        error = exc.last_attempt.exception()
        cause = f" (last error: {error.__class__.__name__}: {error})" if error else ""
        raise TimeoutError(f"{what} did not happen within {timeout_s:.0f} s{cause}") from error
