"""The exceptions a user sees as one line: bad input, and training that diverged."""


class DigitlabError(Exception):
    """A problem with the user's input (a file, a row, a field, a setting); its message is the line."""


class TrainingDiverged(Exception):
    """The training loss became NaN or infinite: the settings, not the input, are at fault."""
