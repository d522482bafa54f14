"""Memory service: the record of truth for causal marketing data and the KSE over it.

Modules (domain ones import neither grpc nor gen/):

* ``store``          the RecordStore interface and the types that cross it
* ``sqlite_store``   its SQLite implementation (WAL, synchronous=FULL); ``store_sql`` the
  schema and query builders, ``sqlite_commit`` one commit's statements
* ``key_seqs``       record id / natural key hash → seqs, the store's identity lookups
* ``features``       a record's causal profile (causal text, ROAS/CPA/CTR, season, weekday…)
* ``embedding``      causal text ⊕ standardised numeric profile (hashing default, MiniLM optional)
* ``faiss_index``    per-org FAISS (exact IDMap2/Flat, IVFFlat above a size), persisted, recovered
* ``record_ids``     seq → record id beside each FAISS index
* ``spaces``         Gärdenfors conceptual spaces, nearest-prototype regions
* ``graph``          typed knowledge-graph nodes/edges and networkx neighbourhoods
* ``engine``         the facade over ``writer`` (idempotent writes), ``search`` (filtered
  similarity search) and ``org_graphs`` (graph neighbourhoods, space counts)
* ``write_group``    group commit: a write stream's waiting messages in one transaction
* ``convert``, ``service``, ``app``, ``cli``   the gRPC face, ``liftos search``
"""
