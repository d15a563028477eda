"""The one exception type for mistakes a user can fix (bad paths, columns, options)."""

import sys


class UserInputError(Exception):
    """A problem with the user's input, worded as "what is wrong; how to fix it".

    Command-line entry points print the message on one line and exit with
    status 2 instead of showing a traceback.
    """


def run_command(command, arguments):
    """Runs one command-line command; returns its exit status.

    0 on success; 2 for a `UserInputError`, printed as `error: ...` on one line;
    130 when interrupted (a rerun of the same command resumes training).
    """
    try:
        command(arguments)
    except UserInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    return 0
