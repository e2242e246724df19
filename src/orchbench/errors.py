"""The one exception type that means "the user gave us bad input".

The CLI turns a UserError into one line on stderr and exit code 2; anything else is a bug and
keeps its traceback.
"""


class UserError(Exception):
    """Bad input: the message says what, where, and how to fix it, in one line."""

    exit_code = 2
