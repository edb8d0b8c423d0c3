"""The service's errors; service/problems.py turns each into an RFC 9457 response.

ServiceError
 +-- ConfigurationError      a settings, policy or model problem found at start-up
 +-- ServiceUnavailableError a resource (model, database, Redis) is not ready   -> 503
 +-- NotFoundError           no such video, item or key                         -> 404
 +-- ConflictError           the request contradicts the video's state          -> 409
 +-- InvalidRequestError     a value the schema allows but the domain does not  -> 422
 +-- AuthenticationError     no key, or an unknown or revoked key               -> 401
 +-- PermissionDeniedError   a key without the role the endpoint needs          -> 403
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every error raised by service/."""


class ConfigurationError(ServiceError):
    pass


class ServiceUnavailableError(ServiceError):
    pass


class NotFoundError(ServiceError):
    pass


class ConflictError(ServiceError):
    pass


class InvalidRequestError(ServiceError):
    def __init__(self, detail: str, errors: list[dict[str, object]] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or []


class AuthenticationError(ServiceError):
    pass


class PermissionDeniedError(ServiceError):
    pass
