"""Experiment recipes, one module per model family; each defines EXPERIMENTS = [Experiment, ...]."""
