"""digitlab's version, at the bottom floor: every level may read it, and nothing imports the package root."""

__version__ = "0.1.0"  # pyproject.toml's [project] version (a test checks they agree)
