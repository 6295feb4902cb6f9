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


# AWS error codes, read one way. Throttling: DynamoDB's own refusal, the SDK-wide
# throttle, and the account-level request limit, all retried by a loader after a pause.
THROTTLED = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
# Gone already: DynamoDB, Lambda and Logs say ResourceNotFoundException, IAM NoSuchEntity.
GONE = frozenset({"ResourceNotFoundException", "NoSuchEntity"})


def code_of(error: BaseException | None) -> str:
    """The AWS error code of a botocore ``ClientError``; '' for any other exception.

    Read from ``error.response`` without importing botocore, so every layer can use it.
    """
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return ""
    return response.get("Error", {}).get("Code") or ""
