"""Schedulers: one module (or package) each, behind one protocol.

:mod:`distsim.scheduling.base` holds the protocol (``place(request, view) ->
Placement | Rejection``) and the types it speaks; :mod:`distsim.scheduling.registry`
maps scenario names to classes (the name table itself is :mod:`distsim.names`).
Schedulers sit above the pure model, the privacy mechanisms, the placement
kernel and the world, and below the engine: none of them imports
:mod:`distsim.engine` (the import-contract test, ``tests/test_import_contract.py``,
keeps it so). Importing this package imports no scheduler.
"""
