"""Self-host a registry model version with vLLM behind an OpenAI-compatible API.

    python -m tools.vllm_serve [--version production|N] [--config configs/vllm.yaml] [--exec]

Prints the ``vllm serve <model folder> --config configs/vllm.yaml`` command for the chosen
registry version (default: production) and the settings that point the inference service at
it (LLM_BACKENDS / OPENAI_BASE_URL / OPENAI_MODEL_ID). ``--exec`` runs it in place. vLLM needs
a CUDA GPU and its own environment (its pins clash with this project's venv): install it there
with ``pip install vllm`` and run the printed command, or use the compose ``vllm`` profile.
"""

import json
import os
import shlex
import shutil
from pathlib import Path
from typing import Annotated, Any

import typer

from llm_twin.settings import PROJECT_ROOT

app = typer.Typer(add_completion=False)
DEFAULT_CONFIG = PROJECT_ROOT / "configs" / "vllm.yaml"


def vllm_plan(model_dir: Path, config_path: Path) -> dict[str, Any]:
    """The command and the API-side settings for serving ``model_dir`` with ``config_path``.

    Args:
        model_dir: A merged Hugging Face model folder (a registry version's ``model/``).
        config_path: A ``vllm serve --config`` YAML file (host, port, served-model-name...).

    Raises:
        InvalidInput: the config is missing, unreadable or lacks a served-model-name.
    """
    from llm_twin.domain.exceptions import InvalidInput
    from pipelines.configs import read_yaml_mapping

    config = read_yaml_mapping(config_path, f"vLLM config {config_path}")
    if not config.get("served-model-name"):
        raise InvalidInput(f"vLLM config {config_path} must set served-model-name")
    host = str(config.get("host", "0.0.0.0"))
    port = int(config.get("port", 8000))
    client_host = "localhost" if host in ("0.0.0.0", "::", "") else host
    command = ["vllm", "serve", str(model_dir), "--config", str(config_path)]
    return {
        "command": command,
        "settings": {
            "LLM_BACKENDS": "openai,local",
            "OPENAI_BASE_URL": f"http://{client_host}:{port}/v1",
            "OPENAI_MODEL_ID": str(config["served-model-name"]),
        },
    }


@app.command()
def main(
    version: Annotated[
        str, typer.Option("--version", help="Registry version number, or 'production'")
    ] = "production",
    config: Annotated[Path, typer.Option("--config", help="vllm serve config")] = DEFAULT_CONFIG,
    model_name: Annotated[str | None, typer.Option(help="Registry model name")] = None,
    run: Annotated[bool, typer.Option("--exec", help="Run vllm serve now")] = False,
) -> None:
    """Print (or run) the vLLM command serving a registry version."""
    from llm_twin.domain.exceptions import LLMTwinError
    from llm_twin.model.serving import resolve_version
    from llm_twin.settings import get_settings

    try:
        chosen = resolve_version(get_settings(), version, model_name)
        plan = vllm_plan(chosen.model_dir, config)
    except LLMTwinError as error:
        typer.secho(f"error: {error}", fg="red", err=True)
        raise typer.Exit(2) from None
    plan["version"] = chosen.version
    executable = shutil.which("vllm")
    if run and executable is None:
        typer.secho(
            "error: the `vllm` command is not installed here. vLLM needs a CUDA GPU and its own "
            "environment (its torch/transformers pins clash with this project's): on a GPU "
            "machine run `python -m venv vllm-env && vllm-env/bin/pip install vllm`, then the "
            f"command below.\n  {shlex.join(plan['command'])}",
            fg="red",
            err=True,
        )
        raise typer.Exit(3)
    typer.echo(json.dumps(plan | {"vllm_installed": executable is not None}))
    exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in plan["settings"].items())
    typer.echo(f"# then start the API with: {exports} poe run-inference-ml-service", err=True)
    if run:
        os.execv(executable, plan["command"])  # type: ignore[arg-type]


if __name__ == "__main__":
    app()
