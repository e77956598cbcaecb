"""The exceptions a user sees as one line: bad input, and training that diverged."""


class DigitlabError(Exception):
    """A problem with the user's input (a file, a row, a field, a setting); its message is the line.

    Messages quote untrusted text (a JSON key, a cell), so line breaks in them are escaped:
    the error stays one line whatever the input holds.
    """

    def __str__(self) -> str:
        return super().__str__().replace("\r", "\\r").replace("\n", "\\n")


class TrainingDiverged(Exception):
    """The training loss became NaN or infinite: the settings, not the input, are at fault."""
