"""Stage 3, training: task batches, loss weighting strategies and the joint trainer (+ torchrun)."""
