"""Waiting for what a daemon does in its own time (a drain, a scrape, a log line), without fixed sleeps."""
import time


def wait_for(predicate, timeout=10, what="the condition", explain=lambda: "", interval=0.1):
    """The first truthy value of `predicate()`, polled every `interval` s; fails the test after `timeout` s, naming
    `what` and adding `explain()` (state worth seeing when it did not happen)."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what} {explain()}".rstrip())
        time.sleep(interval)
