"""The SimPy engine: arrivals, retries, reservations and timing models."""
