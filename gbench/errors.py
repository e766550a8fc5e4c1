"""The one exception type for user errors: the CLI prints its message on one line and exits 2."""


class GBenchError(Exception):
    """A user-facing error (bad input, missing file, unknown name). Its message is the whole story."""
