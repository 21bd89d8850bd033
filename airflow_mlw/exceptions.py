"""Errors a user can cause. Each names the offending thing and never carries a secret."""

from __future__ import annotations


class MlwError(Exception):
    """Base class of every error a user of airflow_mlw can cause."""


class ConfigError(MlwError):
    """A configuration file or setting is missing, unreadable or malformed."""


class RegistryError(MlwError):
    """The workspace registry cannot be reached or used."""


class RegistryUnavailableError(RegistryError):
    """The registry database does not answer at the configured URL."""


class WorkspaceNotFoundError(MlwError):
    """No workspace of that name exists in the registry."""


class WorkspaceExistsError(MlwError):
    """A workspace of that name already exists."""


class DatastoreNotFoundError(MlwError):
    """No datastore of that name is registered in the workspace."""


class DatastoreExistsError(MlwError):
    """A datastore of that name is already registered in the workspace."""


class DatastorePathError(MlwError):
    """A datastore path is malformed or escapes the datastore root."""


class DatastoreConnectionError(MlwError):
    """A datastore's storage cannot be reached: missing connection, wrong credentials, no bucket."""


class DatastoreConflictError(MlwError):
    """A transfer would replace a differing file without ``overwrite=True``."""


class ChecksumMismatchError(MlwError):
    """A file's checksum after transfer differs from the source's."""


class DatasetError(MlwError):
    """A dataset definition, registration or read failed because of its input."""


class DatasetNotFoundError(DatasetError):
    """No dataset (or no such version) of that name in the workspace."""


class DatasetExistsError(DatasetError):
    """A dataset of that name exists and ``create_new_version`` was not set."""


class DatasetDriftError(DatasetError):
    """The files of a registered version changed since it was registered.

    :param changed: paths whose size or content differs
    :param added: paths that match the definition now but were not registered
    :param removed: registered paths that are gone
    """

    def __init__(self, message: str, changed: list[str], added: list[str], removed: list[str]) -> None:
        super().__init__(message)
        self.changed, self.added, self.removed = changed, added, removed


class MlwEnvironmentError(MlwError):
    """An environment definition, registration or image build failed because of its input."""


class ComputeTargetException(MlwError):
    """An unknown or misconfigured compute target (Azure's name, kept for ported code)."""


class ScriptFailedError(MlwError):
    """A script exited non-zero; the message carries the exit code and the tail of its stderr."""


class WebserviceException(MlwError):
    """A model or scoring-service operation failed (Azure's name, kept for ported code)."""


class ModelNotFoundError(WebserviceException):
    """No model (or no such version) of that name in the workspace."""
