"""Where index versions live: files in a folder or a PostgreSQL database."""
