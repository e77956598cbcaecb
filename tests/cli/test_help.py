"""Every command's help shows its text as written: brackets are text, never Rich markup."""

import re

import typer

from digitlab.cli import app
from tests.helpers import cli


def _commands(command, path=()):
    """(path, command) for the root and every command and subcommand under it, from Click's tree."""
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


def _bracketed(text: str) -> list[str]:
    """Each `[...]` in a help text with the characters joined to it, whitespace removed (Rich rewraps)."""
    return [re.sub(r"\s", "", m) for m in re.findall(r"\S*\[[^\]]*\]\S*", text)]


def test_every_bracket_in_every_help_text_is_shown_literally():
    tree = typer.main.get_command(app)  # a fresh tree, its help texts as the source wrote them
    checked = []
    for path, command in _commands(tree):
        helps = [getattr(p, "help", None) for p in command.params]  # options', and Typer's arguments'
        texts = [command.help or "", *(h for h in helps if isinstance(h, str))]
        wanted = [b for text in texts for b in _bracketed(text.partition("\f")[0])]
        result = cli(*path, "--help")
        assert result.returncode == 0, (path, result.stderr)
        shown = re.sub(r"[\s│]", "", result.stdout)  # Rich's panel borders and line breaks out
        missing = [b for b in wanted if b not in shown]
        assert not missing, f"digitlab {' '.join(path)} --help lost {missing}"
        checked += wanted
    assert "'digitlab[notebook]')." in checked  # the case that was lost: the walk does reach it
