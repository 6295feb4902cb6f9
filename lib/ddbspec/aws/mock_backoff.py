"""The SDK's wait before it retries a call that ``ddbspec mock-aws --throttle`` refused.

botocore backs off before each retry of a throttled call (a random wait of up to 1, 2, 4 s):
time for the service's capacity to come back. A throttle the mock injects does not go away
with time (its first N calls are refused however long the client waits), so waiting it out
only made each run that injects one 5-10 s slower. The mock notes, thread by thread, whether
the answer it gave last was such a throttle, and the SDK's next wait in that thread is not
slept but added to the SDK's clock, which adaptive mode paces its calls by: the SDK goes on
as if it had waited. Every other wait is slept as botocore would: after a throttle of the
capacity the mock enforces (``ddbspec.aws.mock_capacity``), whose buckets refill with time.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator


class Backoff:
    """The ``time`` module of ``botocore.endpoint`` (which sleeps with it before a retry) and
    of ``botocore.retries.bucket`` (adaptive mode's clock): a sleep right after a throttle the
    mock injected moves the clock on instead."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.lock = threading.Lock()
        self.skipped = 0.0  # seconds the SDK's clock is ahead of the real one

    def answered(self, *, injected: bool) -> None:
        """Note whether this thread's last answer was a throttle injected on purpose."""
        self.local.injected = injected

    def sleep(self, seconds: float) -> None:
        injected, self.local.injected = getattr(self.local, "injected", False), False
        if not injected:
            time.sleep(seconds)
            return
        with self.lock:
            self.skipped += seconds

    def time(self) -> float:
        return time.time() + self.skipped


@contextlib.contextmanager
def installed(backoff: Backoff) -> Iterator[None]:
    """The SDK's waits and clock, as ``backoff`` keeps them, while the mock answers."""
    from botocore import endpoint
    from botocore.retries import bucket

    originals = endpoint.time, bucket.time
    endpoint.time = bucket.time = backoff
    try:
        yield
    finally:
        endpoint.time, bucket.time = originals
