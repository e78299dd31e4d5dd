"""Subcommands of the ``distsim`` command line, one module each."""
