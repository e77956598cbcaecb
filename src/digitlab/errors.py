"""The exceptions a user sees as one line (bad input, training that diverged), and text made safe to show."""

import unicodedata

# Characters that would change what a terminal shows rather than be shown: line breaks, escape sequences
# (colours, cursor moves, a changed window title), and the bidirectional overrides that reorder text.
BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def plain(text: str) -> str:
    """`text` with every control character written as an escape (`\\x1b`, `\\n`, `\\u202e`): one inert line.

    File names, JSON keys and cells come from outside; printed raw, a name could forge a result line,
    recolour the terminal or hide its own ending. Printed through this, it is only ever text.
    """
    if text.isprintable():
        return text
    return "".join(_escaped(c) if _is_control(c) else c for c in text)


def _is_control(c: str) -> bool:
    return unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in BIDI_CONTROLS


def _escaped(c: str) -> str:
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    return named.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


class DigitlabError(Exception):
    """A problem with the user's input (a file, a row, a field, a setting); its message is the line.

    Messages quote untrusted text (a file name, a JSON key, a cell), so control characters in them
    are escaped: the error stays one line, and only text, whatever the input holds.
    """

    def __str__(self) -> str:
        return plain(super().__str__())


class TrainingDiverged(Exception):
    """The training loss became NaN or infinite: the settings, not the input, are at fault."""
