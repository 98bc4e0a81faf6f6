"""Model instances read and written in plain SQL, where the ORM costs more than the query.

``model_columns`` names a model's columns for a SELECT under a table alias
and turns the matching slice of a result row back into an instance, with
the converters a RawQuerySet would apply (SQLite's dates, datetimes and
decimals; JSON), found once per database instead of on every read. The
columns are named, never ``*``: a prepared statement whose result gains a
column (a migration under running processes) fails until it is prepared
again.

``insert`` and ``update`` write instances as ``bulk_create`` and
``save(update_fields=...)`` would, each value prepared as they prepare it,
without building and compiling their query on every call.
"""

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import DatabaseError, transaction
from django.db.models import NOT_PROVIDED, Model
from django.db.models.fields import AutoFieldMixin

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


@dataclass(frozen=True, slots=True)
class _Statement:
    fields: tuple
    returning: tuple
    sql: str
    unnest: bool = False


def insert(connection, objs: Sequence[Model]) -> None:
    """INSERT the new ``objs``, all of one model, in one statement: ``bulk_create`` uncompiled.

    Each value is prepared as the ORM prepares it: the field's ``pre_save``
    (which stamps ``auto_now_add`` and ``auto_now`` on the object), then
    ``get_db_prep_save``. Related objects are checked as ``save`` checks them.
    The ids the database returns are set on the objects, which then count as
    saved. Several rows go in as ``bulk_create`` sends them: on PostgreSQL one
    array a column (UNNEST), so that one statement, prepared once, serves
    any number of rows. Like ``bulk_create``, it sends no signal: for the
    models nothing listens to. A database that cannot return rows from an
    INSERT (SQLite before 3.35) saves them one by one through the ORM.
    """
    if not objs:
        return
    model = type(objs[0])
    for obj in objs:
        if type(obj) is not model:
            raise TypeError(f"One model a statement: {type(obj).__name__} among {model.__name__}.")
        # An id the database gives (not a default such as a UUID's) means a saved row.
        if not obj._state.adding or (obj.pk is not None and model._meta.pk.db_returning):
            raise ValueError(f"{model.__name__} {obj.pk} is not new: insert() writes new rows.")
    if not connection.features.can_return_rows_from_bulk_insert:
        for obj in objs:
            obj.save(using=connection.alias, force_insert=True)
        return
    unnest = (
        len(objs) > 1
        and connection.vendor == "postgresql"
        and per_database(connection, (model, "unnests"), lambda: _unnests(model, connection))
    )
    statement = per_database(
        connection,
        (model, "insert", "unnest" if unnest else len(objs)),
        lambda: _insert_statement(model, len(objs), connection, unnest=unnest),
    )
    values = []
    for obj in objs:
        check_related_saved(obj)
        values.append(
            [
                field.get_db_prep_save(field.pre_save(obj, True), connection)
                for field in statement.fields
            ]
        )
    if statement.unnest:
        params = [list(column) for column in zip(*values, strict=True)]
    else:
        params = [value for row in values for value in row]
    # As save() does: an error leaves the transaction to roll back, even if caught.
    with transaction.mark_for_rollback_on_error(connection.alias), connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        returned = cursor.fetchall() if statement.returning else [()] * len(objs)
    for obj, row in zip(objs, returned, strict=True):
        for field, value in zip(statement.returning, row, strict=True):
            setattr(obj, field.attname, value)
        obj._state.adding = False
        obj._state.db = connection.alias


def _insert_statement(model: type[Model], rows: int, connection, *, unnest: bool) -> _Statement:
    meta = model._meta
    if meta.parents:
        raise TypeError(f"{model.__name__} inherits its table: save it instead.")
    returning = tuple(meta.db_returning_fields)
    if any(not isinstance(field, AutoFieldMixin) for field in returning):
        raise TypeError(
            f"{model.__name__} returns more than its id from an INSERT: save it instead."
        )
    fields = _inserted_fields(model)
    if any(field.db_default is not NOT_PROVIDED for field in fields):
        raise TypeError(f"{model.__name__} has a database default: save it instead.")
    quote = connection.ops.quote_name
    if unnest:
        # As Django's PostgreSQL compiler writes it, the types without their
        # parameters (varchar[], not varchar(50)[]).
        arrays = ", ".join(f"(%s)::{field.db_type(connection).split('(')[0]}[]" for field in fields)
        values = f"SELECT * FROM UNNEST({arrays})"  # noqa: S608 - the backend's own type names
    else:
        values = "VALUES " + ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * rows)
    # Names quoted by the backend; every value is a parameter.
    columns = ", ".join(quote(field.column) for field in fields)
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) {values}"
    if returning:
        returning_sql, _params = connection.ops.return_insert_columns(returning)
        sql += f" {returning_sql}"
    return _Statement(fields=fields, returning=returning, sql=sql, unnest=unnest)


def _inserted_fields(model: type[Model]) -> tuple:
    """The columns an INSERT writes: all but those the database fills in."""
    return tuple(
        field
        for field in model._meta.concrete_fields
        if not field.db_returning and not field.generated
    )


def _unnests(model: type[Model], connection) -> bool:
    """Whether each column's values can go in as one typed array, as Django's compiler checks."""
    return not any(
        hasattr(field, "get_placeholder")
        or (field.target_field if field.is_relation else field).get_internal_type()
        not in connection.data_types
        for field in _inserted_fields(model)
    )


def update(connection, obj: Model, names: Sequence[str]) -> None:
    """UPDATE the fields ``names`` of the saved ``obj``: ``save(update_fields=names)``, uncompiled.

    Each value is prepared as ``save`` prepares it (``pre_save``, which
    stamps ``auto_now``, then ``get_db_prep_save``). Like ``save``, it raises
    DatabaseError when no row has the object's id. No signal is sent: for
    the models nothing listens to.
    """
    model = type(obj)
    if obj.pk is None:
        raise ValueError(f"{model.__name__} has no id: it was never saved.")
    statement = per_database(
        connection,
        (model, "update", tuple(names)),
        lambda: _update_statement(model, names, connection),
    )
    check_related_saved(obj, statement.fields)
    params = [
        field.get_db_prep_save(field.pre_save(obj, False), connection) for field in statement.fields
    ]
    params.append(model._meta.pk.get_db_prep_value(obj.pk, connection))
    with transaction.mark_for_rollback_on_error(connection.alias), connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        if cursor.rowcount != 1:
            raise DatabaseError(f"{model.__name__} {obj.pk} was not updated: no row has its id.")


def _update_statement(model: type[Model], names: Sequence[str], connection) -> _Statement:
    meta = model._meta
    fields = tuple(meta.get_field(name) for name in names)
    if len(set(fields)) != len(fields) or any(
        not field.concrete or field.primary_key or field.generated for field in fields
    ):
        raise TypeError(f"Name each of {model.__name__}'s own columns once: {names}.")
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    # Names quoted by the backend; every value is a parameter.
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    return _Statement(fields=fields, returning=(), sql=sql)


def check_related_saved(obj: Model, fields: Sequence | None = None) -> None:
    """Refuse an object whose related object was never saved, as ``save`` and ``bulk_create`` do.

    Its id would otherwise be written as NULL. One saved after it was
    assigned gives its id now.
    """
    for field in obj._meta.concrete_fields if fields is None else fields:
        if not field.is_relation or not field.is_cached(obj):
            continue
        related = getattr(obj, field.name)
        if related is None:
            continue
        if related.pk is None:
            raise ValueError(
                f"Cannot save {type(obj).__name__} with the unsaved related object {field.name!r}."
            )
        if getattr(obj, field.attname) != related.pk:
            setattr(obj, field.attname, related.pk)
