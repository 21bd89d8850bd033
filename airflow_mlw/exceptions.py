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
