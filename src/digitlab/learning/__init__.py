"""Training: losses, optimizers, metrics, schedules, callbacks and the Learner."""
