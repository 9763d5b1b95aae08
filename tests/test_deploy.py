"""The deployment recipe: deploy/serve.sh starts the app in public mode and it answers its health check."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy"))


def test_serve_starts_the_app_and_it_answers_its_health_check(tmp_path, mirror):
    from healthcheck import healthy

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    assert not healthy(base, timeout=1)
    env = {**os.environ, "PORT": str(port), "ADDRESS": "127.0.0.1", "DETECTOR_DATA_DIR": str(tmp_path / "data"),
           "DETECTOR_MIRROR": str(mirror)}
    env.pop("DETECTOR_PUBLIC", None)
    proc = subprocess.Popen(["bash", str(ROOT / "deploy" / "serve.sh")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 90
        while time.time() < deadline and not healthy(base, timeout=2):
            assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
            time.sleep(0.5)
        assert healthy(base), "the app answered its health check"
        assert subprocess.run([sys.executable, str(ROOT / "deploy" / "healthcheck.py"), base]).returncode == 0
        line = proc.stdout.readline().decode()
        while line and not line.startswith("warm-up:"):
            line = proc.stdout.readline().decode()
        assert line.startswith("warm-up: the app ran once in"), line  # before any visitor
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
    assert (ROOT / "deploy" / "serve.sh").read_text().count('DETECTOR_PUBLIC="${DETECTOR_PUBLIC:-1}"') == 1


def test_the_image_leaves_out_runtime_data_and_secrets():
    """The Docker build context (deploy/compose.yaml builds from the repository root) never carries the
    data folder (score stores, labels), the secrets or the test downloads into an image."""
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", "data/*", ".streamlit/secrets.toml", "tests/.data"} <= ignored
    compose = (ROOT / "deploy" / "compose.yaml").read_text()
    assert "context: .." in compose and "dockerfile: deploy/Dockerfile" in compose
    assert "healthcheck.py" in (ROOT / "deploy" / "Dockerfile").read_text()
