"""A backend named after itself that speaks PostgreSQL, as pool and metrics wrappers are."""

from config.postgresql.base import DatabaseWrapper as PostgresWrapper


class DatabaseWrapper(PostgresWrapper):
    pass
