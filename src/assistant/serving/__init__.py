"""The Assistant facade, rebuilds and the HTTP API."""
