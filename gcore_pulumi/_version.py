"""The one place the package version is written (read by pyproject and the User-Agent)."""

__version__ = "0.1.0"
