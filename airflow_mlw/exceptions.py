"""Errors a user can cause. Each names the offending thing and never carries a secret."""

from __future__ import annotations


class MlwError(Exception):
    """Base class of every error a user of airflow_mlw can cause."""


class UserErrorException(MlwError):
    """An error in what the user asked for (Azure's name, kept for ported ``except`` clauses)."""


class ActivityFailedException(MlwError):
    """A run or step failed (Azure's name, kept for ported ``except`` clauses)."""


class ConfigError(UserErrorException):
    """A configuration file or setting is missing, unreadable or malformed."""


class RegistryError(MlwError):
    """The workspace registry cannot be reached or used."""


class RegistryUnavailableError(RegistryError):
    """The registry database does not answer at the configured URL."""


class WorkspaceNotFoundError(UserErrorException):
    """No workspace of that name exists in the registry."""


class WorkspaceExistsError(UserErrorException):
    """A workspace of that name already exists."""


class DatastoreNotFoundError(UserErrorException):
    """No datastore of that name is registered in the workspace."""


class DatastoreExistsError(UserErrorException):
    """A datastore of that name is already registered in the workspace."""


class DatastorePathError(UserErrorException):
    """A datastore path is malformed or escapes the datastore root."""


class DatastoreConnectionError(MlwError):
    """A datastore's storage cannot be reached: missing connection, wrong credentials, no bucket."""


class DatastoreReadOnlyError(DatastoreConnectionError):
    """A write to a datastore registered without credentials (a public Blob container)."""


class DatastoreConflictError(MlwError):
    """A transfer would replace a differing file without ``overwrite=True``."""


class ChecksumMismatchError(MlwError):
    """A file's checksum after transfer differs from the source's."""


class DatasetError(UserErrorException):
    """A dataset definition, registration or read failed because of its input."""


class SqlQueryError(DatasetError):
    """A SQL datastore query failed or exceeded its ``query_timeout``; carries the database's message."""


class DatasetNotFoundError(DatasetError):
    """No dataset (or no such version) of that name in the workspace."""


class DatasetExistsError(DatasetError):
    """A dataset of that name exists and ``create_new_version`` was not set."""


class DatasetTimestampMissingError(DatasetError):
    """A time filter on a dataset without timestamp columns, or a change that would remove them."""


class DatasetDriftError(DatasetError):
    """The files of a registered version changed since it was registered.

    :param changed: paths whose size or content differs
    :param added: paths that match the definition now but were not registered
    :param removed: registered paths that are gone
    """

    def __init__(self, message: str, changed: list[str], added: list[str], removed: list[str]) -> None:
        super().__init__(message)
        self.changed, self.added, self.removed = changed, added, removed


class MlwEnvironmentError(UserErrorException):
    """An environment definition, registration or image build failed because of its input."""


class ComputeTargetException(UserErrorException):
    """An unknown or misconfigured compute target (Azure's name, kept for ported code)."""


class ScriptFailedError(ActivityFailedException):
    """A script exited non-zero; the message carries the exit code and the tail of its stderr."""


class WebserviceException(MlwError):
    """A model or scoring-service operation failed (Azure's name, kept for ported code)."""


class ModelNotFoundError(WebserviceException):
    """No model (or no such version) of that name in the workspace."""


class RunConfigurationError(UserErrorException):
    """A run configuration value out of range (a node or process count below 1, a wrong type)."""


class RunError(UserErrorException):
    """A run was used in a way Azure refuses (a property set twice, a metric on a finished run...)."""


class RunNotFoundError(RunError):
    """No run with that id in the workspace."""
