"""The pure model: CNN cost model, devices and links, privacy limits.

Nothing in this package imports SimPy; it is plain data and arithmetic that a
notebook, a scheduler or the engine can use alike.
"""
