"""The ZenML dashboard on the local store: start or stop ZenML's local server, offline.

    python -m tools.dashboard start [--port 8237]
    python -m tools.dashboard stop

``start`` runs ZenML's local server (a daemon on 127.0.0.1) on the same local store the pipelines
write to, so runs made before and after it started all show. Analytics stay off, no browser is
opened, and the local user's onboarding survey is marked done (no newsletter opt-in, no e-mail),
so the dashboard opens on the pipelines rather than on a sign-up form. Unlike
``zenml login --local`` it leaves the ZenML client on its local store: the pipelines never depend
on the server, and ``stop`` leaves the ``zenml`` CLI state as it was. Both commands are
idempotent; ``start`` prints the dashboard URL on stdout.
"""

import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tools.cli import fail, setup
from tools.run import stdout_to_stderr

if TYPE_CHECKING:
    from zenml.zen_server.deploy.deployer import LocalServerDeployer

app = typer.Typer(add_completion=False, no_args_is_help=True)

DEFAULT_PORT = 8237
#: The only address the server listens on: the dashboard is a local tool.
HOST = "127.0.0.1"
#: Seconds to wait for the server to answer its health check (it starts in ~20 s on a busy box).
START_TIMEOUT_S = 180
#: User metadata key the dashboard reads to skip its onboarding survey (ZenML's
#: ``FINISHED_ONBOARDING_SURVEY_KEY``).
SURVEY_DONE_KEY = "finished_onboarding_survey"


def pipelines_url(server_url: str) -> str:
    """The dashboard page listing the pipelines of the default project on ``server_url``.

    Args:
        server_url: The server's base URL, e.g. ``http://127.0.0.1:8237``.
    """
    return f"{server_url.rstrip('/')}/projects/default/pipelines"


def require_local_store() -> None:
    """Fail clearly when the ZenML client is connected to a server instead of its local store:
    that server already has a dashboard, and a local one would show another store."""
    from zenml.config.global_config import GlobalConfiguration
    from zenml.enums import StoreType

    store = GlobalConfiguration().store_configuration
    if store.type == StoreType.REST:
        fail(
            f"the ZenML client is connected to the server {store.url} (its dashboard shows the "
            "runs); run `zenml logout` first to use the local store"
        )


def skip_onboarding_survey() -> None:
    """Mark the local user's onboarding survey as done, without e-mail or newsletter opt-in.

    The dashboard asks for a name, an e-mail and a newsletter opt-in while the user's
    ``email_opted_in`` is unset and its metadata lacks ``finished_onboarding_survey``; the
    server (no authentication locally) shows the dashboard as this user.
    """
    from zenml.client import Client

    client = Client()
    user = client.active_user
    metadata = dict(user.user_metadata or {})
    if user.email_opted_in is not None and metadata.get(SURVEY_DONE_KEY):
        return
    client.update_user(
        user.id,
        updated_email_opt_in=False,
        updated_metadata={**metadata, SURVEY_DONE_KEY: True},
    )


def port_in_use(port: int) -> bool:
    """Whether something already listens on ``HOST:port``.

    Args:
        port: TCP port to probe.
    """
    with socket.socket() as probe:
        return probe.connect_ex((HOST, port)) == 0


def is_deployed(deployer: "LocalServerDeployer") -> bool:
    """Whether this ZenML config has a local server deployment (running or not).

    Args:
        deployer: ZenML's local server deployer.
    """
    from zenml.zen_server.deploy.exceptions import ServerDeploymentNotFoundError

    try:
        deployer.get_server()
    except ServerDeploymentNotFoundError:
        return False
    return True


def start_server(port: int) -> str:
    """Start (or keep) the local daemon server on ``HOST:port``; return its URL.

    Args:
        port: TCP port of the server on 127.0.0.1.

    Raises:
        RuntimeError: The server did not become healthy within ``START_TIMEOUT_S``.
    """
    from ipaddress import IPv4Address

    from zenml.enums import ServerProviderType
    from zenml.zen_server.deploy.daemon.daemon_zen_server import DaemonZenServer
    from zenml.zen_server.deploy.deployer import LocalServerDeployer
    from zenml.zen_server.deploy.deployment import LocalServerDeploymentConfig

    deployer = LocalServerDeployer()
    if not is_deployed(deployer) and port_in_use(port):
        raise RuntimeError(f"port {port} on {HOST} is taken by another program; pass --port")
    config = LocalServerDeploymentConfig(
        provider=ServerProviderType.DAEMON, ip_address=IPv4Address(HOST), port=port
    )
    server = deployer.deploy_server(config, timeout=START_TIMEOUT_S)
    if not server.is_running or server.status is None or not server.status.url:
        message = server.status.status_message if server.status else "no status"
        log = Path(DaemonZenServer.config_path()) / "service.log"
        raise RuntimeError(f"the ZenML server on {HOST}:{port} did not start ({message}): {log}")
    return server.status.url


def stop_server() -> bool:
    """Stop the local daemon server and remove its files; return whether one was deployed."""
    from zenml.zen_server.deploy.daemon.daemon_zen_server import DaemonZenServer
    from zenml.zen_server.deploy.deployer import LocalServerDeployer

    deployer = LocalServerDeployer()
    if not is_deployed(deployer):
        return False
    deployer.remove_server()
    # ZenML removes the daemon's folder but leaves its empty parent: drop it too, so the ZenML
    # config folder is as before the dashboard started.
    parent = Path(DaemonZenServer.config_path()).parent
    if parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
    return True


@app.command()
def start(
    port: Annotated[int, typer.Option(help="Port of the dashboard on 127.0.0.1")] = DEFAULT_PORT,
) -> None:
    """Start the dashboard (reuses a running one) and print its URL."""
    setup()
    from zenml.zen_server.deploy.exceptions import ServerDeploymentError

    # ZenML logs to stdout: keep stdout for the one URL line.
    with stdout_to_stderr() as stdout:
        require_local_store()
        try:
            skip_onboarding_survey()
            url = start_server(port)
        except (ServerDeploymentError, RuntimeError) as error:
            fail(str(error))
        typer.echo(f"ZenML dashboard: {url} (stop it with `poe dashboard-stop`)", err=True)
        print(pipelines_url(url), file=stdout, flush=True)


@app.command()
def stop() -> None:
    """Stop the dashboard (nothing to do when it is not running)."""
    setup()
    from zenml.zen_server.deploy.exceptions import ServerDeploymentError

    with stdout_to_stderr():
        try:
            stopped = stop_server()
        except ServerDeploymentError as error:
            fail(str(error))
    message = "ZenML dashboard stopped" if stopped else "ZenML dashboard was not running"
    typer.echo(message, err=True)


if __name__ == "__main__":
    app()
