"""Real data sources -> one validated Catalog, and per-task data sets."""
