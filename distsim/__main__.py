"""``python -m distsim`` runs the command line."""

from distsim.cli import main

raise SystemExit(main())
