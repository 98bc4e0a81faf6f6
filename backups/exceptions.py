class BackupError(Exception):
    """A backup, verification, restore or prune could not be done; the message says why."""

    def __init__(self, message: str, *, record_id: int | None = None):
        super().__init__(message)
        self.message = message
        self.record_id = record_id


class BackupUnavailable(BackupError):
    """The database or a tool is unreachable right now; trying again later may work."""


class VerificationFailed(BackupError):
    """The backup file itself is bad: missing, empty, foreign, truncated or corrupted."""


class BackupBusy(BackupError):
    """Another backup operation holds the lock this one needs; try again later."""
