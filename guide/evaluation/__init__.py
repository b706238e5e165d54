"""Stage 4, evaluation: metrics, per-task scores with CIs, the peers, and the full report."""
