"""The one base class of errors whose message is meant for a person.

Every domain error (a bad reward file, checkpoint, data file, setting, run folder...)
subclasses `UserError`: the CLI prints its message as one line and the dashboard shows it,
with no traceback. Anything else is a bug and keeps its traceback. This module imports
nothing, so every layer can use it.
"""


class UserError(ValueError):
    """Input a person can fix: the message says what was wrong, with the value, and what
    is allowed. A ValueError, so callers that catch ValueError keep working."""
