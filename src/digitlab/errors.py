"""The one exception type users see: its message is the whole error line."""


class DigitlabError(Exception):
    """A problem with the user's input (file, row, field); printed as one line, no traceback."""
