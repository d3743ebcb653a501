"""Errors meant for the user: one clear line and an exit status, raised anywhere, shown at one boundary."""

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_STORE, EXIT_BUG = 0, 1, 2, 3, 70
"""The exit statuses of the command line (the CLI maps every failure to one of them)."""


class UserError(Exception):
    """A problem the user can fix; its message is shown as it is, without a traceback."""

    exit_code = 2


class StoreError(UserError):
    """The database cannot be used as it is (newer than the code, corrupt, locked)."""

    exit_code = 3
