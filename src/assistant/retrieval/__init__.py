"""Question -> ranked passages."""
