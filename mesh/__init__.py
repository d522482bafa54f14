"""The shared kernel and the face of LiftOS, in three parts (DESIGN.md, "Layout"):

- ``mesh.runtime``: the server side and the kernel every service shares (bootstrap, errors
  both ways, peers, frames); it imports generated code and nothing else of ours.
- ``mesh.sdk``: the typed Python client and the wire-error decoder.
- ``mesh.cli``: the ``liftos`` command — every verb, the demo, process management.

Floors: gen ← mesh.runtime ← *_svc ← mesh.sdk, mesh.cli (``tests/test_contracts.py``).
"""
