"""`tools/dashboard.py`: ZenML's local dashboard on a throwaway ZenML config, seen in headless
Chromium: no onboarding form, a pipeline run made while it runs is listed, and stopping it leaves
the ZenML config as it was."""

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def dashboard_env(settings_env: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of the dashboard and pipeline processes: the test warehouse and a ZenML
    config of its own. The server is stopped afterwards whatever the test did."""
    zenml_dir = tmp_path / "zenml"
    env = dict(os.environ, ZENML_CONFIG_PATH=str(zenml_dir))
    yield env
    if (zenml_dir / "zen_server").exists():  # the test failed before stopping it
        _run(["tools.dashboard", "stop"], env)


def test_dashboard_lists_a_pipeline_run_without_onboarding_and_stops_cleanly(
    dashboard_env, browser, tmp_path
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    port = str(_free_port())
    started = _run(["tools.dashboard", "start", "--port", port], dashboard_env)
    assert started.returncode == 0, started.stderr[-3000:]
    url = started.stdout.strip()
    assert url == f"http://127.0.0.1:{port}/projects/default/pipelines"
    zenml_dir = Path(dashboard_env["ZENML_CONFIG_PATH"])
    config_before = (zenml_dir / "config.yaml").read_text()
    # The client stays on its local store: the pipelines never go through the server.
    assert "type: sql" in config_before and f":{port}" not in config_before

    pid = (zenml_dir / "zen_server" / "daemon" / "service.pid").read_text().strip()
    server_environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert b"ZENML_ANALYTICS_OPT_IN=False" in server_environment  # analytics off in the server

    again = _run(["tools.dashboard", "start", "--port", port], dashboard_env)
    assert again.returncode == 0 and again.stdout.strip() == url  # idempotent

    config = tmp_path / "etl.yaml"
    config.write_text("parameters:\n  user_full_name: Grace Hopper\n")
    ran = _run(["tools.run", "digital_data_etl", "--config", str(config)], dashboard_env)
    assert ran.returncode == 0, ran.stderr[-3000:]
    run_id = json.loads(ran.stdout)["run_id"]

    browser.get(url)
    WebDriverWait(browser, 90).until(
        lambda driver: run_id[:8] in driver.find_element(By.TAG_NAME, "body").text
    )
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "digital_data_etl" in page
    # No onboarding survey (name, e-mail, newsletter) in front of the pipelines: without the
    # marked survey, the dashboard redirects to /survey.
    assert "/survey" not in browser.current_url
    assert not browser.find_elements(By.CSS_SELECTOR, "input[type='email']")
    assert "newsletter" not in page.lower()

    stopped = _run(["tools.dashboard", "stop"], dashboard_env)
    assert stopped.returncode == 0, stopped.stderr[-3000:]
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
    assert (zenml_dir / "config.yaml").read_text() == config_before
    assert not (zenml_dir / "zen_server").exists()
    assert _run(["tools.dashboard", "stop"], dashboard_env).returncode == 0  # idempotent


def test_a_taken_port_is_a_clear_error(dashboard_env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = _run(["tools.dashboard", "start", "--port", port], dashboard_env)
    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is taken by another program" in result.stderr
    assert result.stdout == ""
    assert not (Path(dashboard_env["ZENML_CONFIG_PATH"]) / "zen_server").exists()
