"""Model instances read by plain SQL, for the few hot reads where the ORM costs more than the query.

``model_columns`` names a model's columns for a SELECT under a table alias
and turns the matching slice of a result row back into an instance, with
the converters a RawQuerySet would apply (SQLite's dates, datetimes and
decimals; JSON), found once per database instead of on every read. The
columns are named, never ``*``: a prepared statement whose result gains a
column (a migration under running processes) fails until it is prepared
again.
"""

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import Model

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ModelColumns:
    """One model's columns in a statement, under ``alias``, and how to read them back."""

    model: type[Model]
    sql: str
    width: int
    nulls: str
    attnames: tuple[str, ...]
    pk_at: int
    converters: tuple[tuple[int, tuple, Any], ...]

    def instance(self, row: Sequence, connection, start: int = 0) -> Model | None:
        """The instance in ``row[start:start + width]``; None for an outer join's empty side."""
        values = list(row[start : start + self.width])
        if values[self.pk_at] is None:
            return None
        for index, converters, column in self.converters:
            for converter in converters:
                values[index] = converter(values[index], column, connection)
        return self.model.from_db(connection.alias, self.attnames, values)


_BUILT: dict[tuple[str, Hashable], Any] = {}


def per_database(connection, key: Hashable, build: Callable[[], T]) -> T:
    """``build()`` for ``connection``'s database alias, built once: a statement and its columns.

    Kept per database alias, not per backend: a statement quotes its names
    for the backend, and a converter may read its database's settings
    (SQLite's datetimes, its TIME_ZONE), which every connection to the alias
    shares. Converters are bound to the first connection's operations and
    given the current connection at each read.
    """
    cache_key = (connection.alias, key)
    if cache_key not in _BUILT:
        _BUILT[cache_key] = build()
    return _BUILT[cache_key]


def model_columns(model: type[Model], alias: str, connection) -> ModelColumns:
    """``model``'s concrete columns as ``alias.column, ...`` for ``connection``'s backend."""
    return per_database(connection, (model, alias), lambda: _columns(model, alias, connection))


def _columns(model: type[Model], alias: str, connection) -> ModelColumns:
    quote = connection.ops.quote_name
    fields = model._meta.concrete_fields
    columns = [field.get_col(alias) for field in fields]
    return ModelColumns(
        model=model,
        sql=", ".join(f"{alias}.{quote(field.column)}" for field in fields),
        width=len(fields),
        nulls=", ".join("NULL" for _ in fields),
        attnames=tuple(field.attname for field in fields),
        pk_at=fields.index(model._meta.pk),
        converters=tuple(
            (index, tuple(converters), column)
            for index, (field, column) in enumerate(zip(fields, columns, strict=True))
            if (
                converters := connection.ops.get_db_converters(column)
                + field.get_db_converters(connection)
            )
        ),
    )


def read_instances(connection, text: str, params: Sequence, columns: Sequence[ModelColumns]):
    """Each row of ``text`` as one instance (or None) per ``columns``, side by side in the row."""
    with connection.cursor() as cursor:
        cursor.execute(text, params)
        rows = cursor.fetchall()
    found = []
    for row in rows:
        instances, at = [], 0
        for part in columns:
            instances.append(part.instance(row, connection, at))
            at += part.width
        found.append(instances)
    return found
