class NotificationError(Exception):
    """A notification request that cannot be honoured; the message is for the caller."""


class TransientDeliveryError(Exception):
    """Sending failed for a reason that may pass (SMTP down, 4xx); try again later."""

    def __init__(self, message: str, *, retry_in: int) -> None:
        super().__init__(message)
        self.retry_in = retry_in
