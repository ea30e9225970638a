"""The one exception type builtins raise for a pipeline author's mistake."""


class BuiltinError(Exception):
    """A builtin refused its arguments or its capability failed.

    The interpreter shows the message at the caller's line, without a Python traceback.
    """
