"""The cases of issue 13, one module per group: each `run(ctx)` returns its Figures."""
