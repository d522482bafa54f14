"""The PostgreSQL record store (``--store postgresql://…``): the same ``RecordStore`` as the
embedded SQLite one, for deployments past one machine.

* ``store``   :class:`PostgresRecordStore` — connections, reads, scans, aggregates;
* ``commit``  one commit's statements (COPY for the batch's rows, set-based updates);
* ``sql``     the queries built from a filter, in PostgreSQL's dialect.

The schema is versioned in ``memory_svc.migrations``.
"""

from memory_svc.postgres.store import PostgresRecordStore, is_postgres_url

__all__ = ["PostgresRecordStore", "is_postgres_url"]
