"""Confluent's error codes and the exceptions that carry them to the one error middleware."""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    SUBJECT_NOT_FOUND = 40401
    VERSION_NOT_FOUND = 40402
    SCHEMA_NOT_FOUND = 40403
    SUBJECT_SOFT_DELETED = 40404
    SUBJECT_NOT_SOFT_DELETED = 40405
    SCHEMA_VERSION_SOFT_DELETED = 40406
    SCHEMA_VERSION_NOT_SOFT_DELETED = 40407
    SUBJECT_COMPATIBILITY_NOT_CONFIGURED = 40408
    INCOMPATIBLE_SCHEMA = 409
    INVALID_SCHEMA = 42201
    INVALID_VERSION = 42202
    INVALID_COMPATIBILITY_LEVEL = 42203
    INVALID_SUBJECT = 42208
    SCHEMA_TOO_LARGE = 42209
    STORE_ERROR = 50001


class RegistryError(Exception):
    """An error answered as ``{"error_code": code, "message": message}`` with HTTP ``status``."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class BadRequest(RegistryError):
    """The request itself is unusable: not JSON, a wrong content type, a wrong shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, status, message)


class SubjectNotFound(RegistryError):
    def __init__(self, subject: str) -> None:
        super().__init__(404, ErrorCode.SUBJECT_NOT_FOUND, f"Subject '{subject}' not found.")


class VersionNotFound(RegistryError):
    def __init__(self, version: int) -> None:
        super().__init__(404, ErrorCode.VERSION_NOT_FOUND, f"Version {version} not found.")


class SchemaNotFound(RegistryError):
    def __init__(self, message: str = "Schema not found") -> None:
        super().__init__(404, ErrorCode.SCHEMA_NOT_FOUND, message)


class SubjectSoftDeleted(RegistryError):
    def __init__(self, subject: str) -> None:
        message = f"Subject '{subject}' was soft deleted.Set permanent=true to delete permanently"
        super().__init__(404, ErrorCode.SUBJECT_SOFT_DELETED, message)


class SubjectNotSoftDeleted(RegistryError):
    def __init__(self, subject: str) -> None:
        message = f"Subject '{subject}' was not deleted first before being permanently deleted"
        super().__init__(404, ErrorCode.SUBJECT_NOT_SOFT_DELETED, message)


class VersionSoftDeleted(RegistryError):
    def __init__(self, subject: str, version: int) -> None:
        message = (
            f"Subject '{subject}' Version {version} was soft deleted.Set permanent=true to delete "
            "permanently"
        )
        super().__init__(404, ErrorCode.SCHEMA_VERSION_SOFT_DELETED, message)


class VersionNotSoftDeleted(RegistryError):
    def __init__(self, subject: str, version: int) -> None:
        message = (
            f"Subject '{subject}' Version {version} was not deleted first before being "
            "permanently deleted"
        )
        super().__init__(404, ErrorCode.SCHEMA_VERSION_NOT_SOFT_DELETED, message)


class CompatibilityNotConfigured(RegistryError):
    def __init__(self, subject: str) -> None:
        message = f"Subject '{subject}' does not have subject-level compatibility configured"
        super().__init__(404, ErrorCode.SUBJECT_COMPATIBILITY_NOT_CONFIGURED, message)


class IncompatibleSchema(RegistryError):
    def __init__(self, subject: str, messages: list[str]) -> None:
        message = (
            "Schema being registered is incompatible with an earlier schema for subject "
            f'"{subject}", details: [{", ".join(messages)}]'
        )
        super().__init__(409, ErrorCode.INCOMPATIBLE_SCHEMA, message)


class InvalidSchema(RegistryError):
    def __init__(self, message: str) -> None:
        super().__init__(422, ErrorCode.INVALID_SCHEMA, message)


class SchemaTooLarge(RegistryError):
    """Confluent's RestSchemaTooLargeException; by default its message when Kafka refuses the
    record (the only case Confluent has), else one naming the limit that was passed."""

    def __init__(
        self, message: str = "Register operation failed because schema is too large"
    ) -> None:
        super().__init__(422, ErrorCode.SCHEMA_TOO_LARGE, message)


class InvalidVersion(RegistryError):
    def __init__(self, version: str) -> None:
        message = (
            f"The specified version '{version}' is not a valid version id. Allowed values are "
            'between [1, 2^31-1] and the string "latest"'
        )
        super().__init__(422, ErrorCode.INVALID_VERSION, message)


class InvalidCompatibilityLevel(RegistryError):
    def __init__(self) -> None:
        message = (
            "Invalid compatibility level. Valid values are none, backward, forward, full, "
            "backward_transitive, forward_transitive, and full_transitive"
        )
        super().__init__(422, ErrorCode.INVALID_COMPATIBILITY_LEVEL, message)


class InvalidSubject(RegistryError):
    def __init__(self, reason: str) -> None:
        super().__init__(
            422, ErrorCode.INVALID_SUBJECT, f"The specified subject is not valid: {reason}"
        )


class StoreUnavailable(RegistryError):
    def __init__(self, reason: str) -> None:
        message = f"Error while storing the schema in the backend Kafka store: {reason}"
        super().__init__(500, ErrorCode.STORE_ERROR, message)
