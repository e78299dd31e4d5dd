"""Benchmarks: importable suites behind ``distsim bench``."""
