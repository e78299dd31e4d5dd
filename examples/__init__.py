"""Examples of extending distsim without forking it (see docs/extending.md); not part of the wheel."""
