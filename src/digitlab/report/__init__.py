"""Figures (matplotlib, as PNG) and self-contained HTML pages."""
