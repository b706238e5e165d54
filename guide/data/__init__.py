"""Stage 1, data: real data sources -> one validated Catalog, and per-task data sets."""
