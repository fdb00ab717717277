"""The exit codes of `newsignal`, in one place for the CLI and the run that records them.

0 ok; 1 the run finished with failures (articles or feeds) above `settings.failure_threshold`;
2 bad usage or configuration; 3 another run holds the lock; 4 newsignal crashed (a bug).
"""

EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_LOCKED, EXIT_CRASH = 0, 1, 2, 3, 4
