"""Memory service: the record of truth for causal marketing data and the KSE over it.

Modules (domain ones import neither grpc nor gen/):

* ``store``      RecordStore protocol + SQLite implementation (WAL, synchronous=FULL)
* ``features``   a record's causal profile (causal text, ROAS/CPA/CTR, season, weekday…)
* ``embedding``  causal text ⊕ standardised numeric profile (hashing default, MiniLM optional)
* ``index``      per-org FAISS (exact IDMap2/Flat, IVFFlat above a size), persisted, recovered
* ``spaces``     Gärdenfors conceptual spaces, nearest-prototype regions
* ``graph``      typed knowledge-graph nodes/edges and networkx neighbourhoods
* ``engine``     write / scan / filtered search / graph / spaces over the above
* ``convert``, ``service``, ``app``, ``cli``   the gRPC face, ``liftos search``
* ``synthetic``  synthetic records for tests, benchmarks and demos
"""
