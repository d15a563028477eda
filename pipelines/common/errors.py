"""The one exception type for mistakes a user can fix (bad paths, columns, options)."""


class UserInputError(Exception):
    """A problem with the user's input, worded as "what is wrong; how to fix it".

    Command-line entry points print the message on one line and exit with
    status 2 instead of showing a traceback.
    """
