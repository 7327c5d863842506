"""One hierarchy of errors; `app.api.problems` renders them as RFC 9457 problems."""

from typing import Any


class AppError(Exception):
    """An error a client should see, with its HTTP status and a stable error code."""

    status: int = 400
    error_code: str = "BAD_REQUEST"
    title: str = "Bad request"

    def __init__(self, message: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class NotFoundError(AppError):
    status, error_code, title = 404, "NOT_FOUND", "Not found"


class UnauthenticatedError(AppError):
    status, error_code, title = 401, "UNAUTHENTICATED", "Unauthenticated"


class ForbiddenError(AppError):
    status, error_code, title = 403, "FORBIDDEN", "Forbidden"


class ConflictError(AppError):
    status, error_code, title = 409, "CONFLICT", "Conflict"


class TransitionNotAllowedError(ConflictError):
    error_code, title = "TRANSITION_NOT_ALLOWED", "Transition not allowed"


class GuardFailedError(ConflictError):
    error_code, title = "GUARD_FAILED", "Guard failed"


class AssignmentRefusedError(ConflictError):
    error_code, title = "ASSIGNMENT_REFUSED", "Assignment refused"


class ReferralExistsError(ConflictError):
    error_code, title = "REFERRAL_EXISTS", "Already referred"


class InvalidStateError(ConflictError):
    error_code, title = "INVALID_STATE", "Not allowed in this state"


class LetterMoveNotAllowedError(ConflictError):
    error_code, title = "LETTER_MOVE_NOT_ALLOWED", "Letter move not allowed"


class ConsentMissingError(ConflictError):
    error_code, title = "CONSENT_MISSING", "Consent missing"


class KeepApartError(ConflictError):
    error_code, title = "KEEP_APART", "Non-association"


class FeedbackExistsError(ConflictError):
    error_code, title = "FEEDBACK_EXISTS", "Feedback already given"


class PreconditionRequiredError(AppError):
    status, error_code, title = 428, "PRECONDITION_REQUIRED", "Precondition required"


class VersionMismatchError(AppError):
    status, error_code, title = 412, "VERSION_MISMATCH", "Version mismatch"


class ValidationFailedError(AppError):
    status, error_code, title = 422, "VALIDATION_FAILED", "Validation failed"

    @classmethod
    def on(cls, field: str, message: str) -> "ValidationFailedError":
        """A refusal naming the request field at fault, as a schema's own refusal does."""
        return cls(message, extra={"errors": [{"field": field, "message": message, "type": "value_error"}]})


def invalid_field(name: str, message: str, kind: str = "value_error") -> ValidationFailedError:
    """A 422 naming one field of the request, as a request that fails its declared validation
    names it (`kind`: the error's type)."""
    error = {"field": name, "message": message, "type": kind}
    return ValidationFailedError(f"invalid request: {name}", extra={"errors": [error]})


class IdempotencyKeyReusedError(AppError):
    status, error_code, title = 422, "IDEMPOTENCY_KEY_REUSED", "Idempotency key reused"


class IdempotencyInProgressError(ConflictError):
    error_code, title = "IDEMPOTENCY_IN_PROGRESS", "Request with this key still running"


class IdempotencyResponseNotKeptError(ConflictError):
    error_code, title = "IDEMPOTENCY_RESPONSE_NOT_KEPT", "Request with this key done, response not kept"


class PayloadTooLargeError(AppError):
    status, error_code, title = 413, "PAYLOAD_TOO_LARGE", "Payload too large"


class ServiceUnavailableError(AppError):
    status, error_code, title = 503, "SERVICE_UNAVAILABLE", "Service unavailable"


class UpstreamError(AppError):
    status, error_code, title = 502, "UPSTREAM_FAILED", "Upstream system failed"


class TargetNotAllowedError(AppError):
    status, error_code, title = 422, "TARGET_NOT_ALLOWED", "Target address not allowed"


class EventRejectedError(AppError):
    status, error_code, title = 422, "EVENT_REJECTED", "Event rejected"
