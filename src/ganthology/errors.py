"""The one exception type for mistakes a user can make.

The CLI prints a `GanthologyError` as a single sentence and exits non-zero, without a traceback.
Anything else that escapes is a bug in ganthology and keeps its traceback.
"""


class GanthologyError(Exception):
    """A problem with the user's input (model name, flag, data, checkpoint, image) and what to do."""
