"""gbench: the GAN evaluation and benchmarking suite."""

__version__ = "0.1.0"
