"""Workers that run peer Active Inference packages, each in its own process."""
