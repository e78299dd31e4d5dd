"""Names of the plot kinds (kept apart from the figure code so the command line can list them without matplotlib)."""

KINDS = ("fig3", "fig3-latency", "fig3-shared", "tradeoff", "pareto", "cdf")
