"""Domain errors. The CLI turns them into a message and an exit code, the API into a status."""

from __future__ import annotations


class AssistantError(Exception):
    """Base of every error a user can act on; the message says what to do."""


class ModelError(AssistantError):
    """The embedding model cannot be provisioned or loaded."""


class IndexMissing(AssistantError):
    """There is no index where one was expected."""


class IndexMismatch(AssistantError):
    """The index on disk was built with another model or format, or is damaged."""


class BadQuestion(AssistantError):
    """The question is empty, too long or otherwise unusable."""


class BuildBusy(AssistantError):
    """Another build of the same index is running."""


class IndexWriteError(AssistantError):
    """A build could not write its new version (disk full, read-only, I/O error); the previous one is untouched."""


class StoreUnavailable(AssistantError):
    """The index database cannot be reached (answered 503; the service recovers by itself)."""
