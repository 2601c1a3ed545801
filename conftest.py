"""Root conftest: command-line options and plugin registration only (DESIGN.md: no god-conftest)."""

pytest_plugins = ["fixtures.stack_registry"]
