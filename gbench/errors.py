"""The exceptions and warnings users see. The CLI prints an error's message on one line (no traceback unless
GBENCH_DEBUG=1) and exits 2 for a usage or config error, 1 for a failure while running.
"""

import warnings


class GBenchError(Exception):
    """A failure the user can act on (missing file or weights, corrupt input, diverged training): exit status 1.
    Its message is the whole story."""

    exit_code = 1


class UsageError(GBenchError):
    """A bad command line or config (unknown name, value out of range, conflicting options): exit status 2."""

    exit_code = 2


class GBenchWarning(UserWarning):
    """Something the user should know that does not stop the work (a fallback taken, a file repaired)."""


def warn(message: str) -> None:
    """Emit a GBenchWarning; the CLI shows it as one `warning:` line."""
    warnings.warn(message, GBenchWarning, stacklevel=2)
