"""What every command-line tool does first, and how it fails (shared by the tools)."""

import typer


def setup() -> None:
    """Switch third-party libraries offline (unless the user chose otherwise) and configure the
    project's stderr logging; call it at the start of a command."""
    from llm_twin.logs import configure_logging
    from llm_twin.settings import apply_offline_defaults

    apply_offline_defaults()
    configure_logging()


def fail(message: str, code: int = 2) -> None:
    """Print ``error: message`` on stderr and exit with ``code``.

    Args:
        message: What went wrong (never a secret).
        code: The exit status.
    """
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(code)
