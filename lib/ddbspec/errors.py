"""Errors a user can act on: each message says what went wrong, where, and what to do."""


class DdbSpecError(Exception):
    """Base of the suite's own errors; the plugin prints these without a traceback."""


class UsageError(DdbSpecError):
    """Options (or a spec's markers) that cannot be run as given; pytest's usage error."""


class DataError(DdbSpecError):
    """A data file is missing, altered, or has a malformed row."""


class EngineError(DdbSpecError):
    """An engine could not be provisioned, started or reached."""


class EngineFailed(EngineError):
    """An engine a spec needs failed to start: the spec fails with its message."""


class NoEngineCapable(DdbSpecError):
    """No engine of the pool has what a spec needs: the spec is skipped, saying why of each."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


class LoadError(DdbSpecError):
    """A load did not write every item it was given."""


class SavedRunError(DdbSpecError):
    """A saved benchmark run is missing, unreadable, or does not compare with another."""
