"""The HTTP service: JSON API under /api and the chat page at /."""

from assistant.serving.api.app import create_app

__all__ = ["create_app"]
