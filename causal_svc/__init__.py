"""The causal service: model → identify → estimate → refute.

Where things are:

- ``service.py``, ``convert.py``, ``app.py``, ``peers.py``: the gRPC edge (servicer, proto ↔
  domain, wiring, calls to memory and the registry); ``jobs.py`` and ``compute.py``: the work sent to worker processes.
- ``pipeline.py``: one estimate end to end; ``summary.py``: its plain-language summary.
- ``methods.py``: the table of estimation methods and the request options they take.
- ``graph/``: the causal DAG (``dag.py``) and what it says about a question (``analysis.py``);
  ``default_graph.py``: the marketing DAG; ``identification.py``: method AUTO's choice.
- ``estimators/``: one module per method (``did.py``, ``iv.py`` …), the result type
  (``result.py``), inference (``_inference.py``) and the shared pieces behind them.
- ``refuters/``: one module per refutation check and the verdict statistics;
  ``sensitivity.py``: E-values and robustness values.
- ``record_tables.py``: memory records → analysis tables; ``analyses.py``: stored analyses;
  ``limits.py``: request bounds; ``errors.py``: domain errors.
"""
