"""What a run directory holds and who may write it: the lock, checkpoints, training.log, metrics, stop requests."""
