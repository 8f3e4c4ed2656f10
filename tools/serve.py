"""Start the inference service (FastAPI + uvicorn).

    python -m tools.serve [--host H] [--port P]

Defaults come from the API_HOST / API_PORT settings (127.0.0.1:8000). The service opens the
vector store; with the embedded store it holds the folder and serves it to this machine's other
processes (the feature pipeline, CDC and the quickstart then write through it), and it loads a
newly promoted model version without a restart. Logs go to stderr.
"""

from typing import Annotated

import typer

app = typer.Typer(add_completion=False)


@app.command()
def main(
    host: Annotated[str | None, typer.Option(help="Bind address (default API_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default API_PORT)")] = None,
) -> None:
    """Serve the twin: /rag, /v1/chat/completions, the chat page at /."""
    import uvicorn

    from llm_twin.infrastructure.api import create_app
    from llm_twin.logs import configure_logging
    from llm_twin.settings import apply_offline_defaults, get_settings

    apply_offline_defaults()
    configure_logging()
    settings = get_settings()
    host = host or settings.api.host
    port = port or settings.api.port
    # The app advertises its internal vector-store endpoint on the address it really binds.
    settings = settings.model_copy(
        update={"api": settings.api.model_copy(update={"host": host, "port": port})}
    )
    typer.echo(f"LLM Twin inference service on http://{host}:{port}/", err=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


if __name__ == "__main__":
    app()
