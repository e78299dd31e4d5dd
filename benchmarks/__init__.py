"""Checkout-only alias: ``python -m benchmarks`` runs :mod:`distsim.benchmarks` (not part of the wheel)."""
