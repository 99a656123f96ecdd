"""`fttui serve --executor ray` refuses what it cannot use with one line and exit status 2."""

from __future__ import annotations

import subprocess
import sys

import pytest


def serve(tmp_path, *args: str) -> subprocess.CompletedProcess:
    import os

    environ = {**os.environ, "FTTUI_HOME": str(tmp_path)}
    environ.pop("RAY_ADDRESS", None)  # the address must come from the arguments here
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "fttui",
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "data"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=environ,
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--executor", "ray"], "--ray-address http://HEAD:8265 (or RAY_ADDRESS)"),
        (["--executor", "ray", "--ray-address", "ray://head:10001"], "not a ray:// or GCS"),
        (
            [
                "--executor",
                "ray",
                "--ray-address",
                "http://127.0.0.1:9",
                "--storage",
                "weird://bucket/jobs",
            ],
            "--storage weird://bucket/jobs: Protocol not known: weird",
        ),
        (
            [
                "--executor",
                "ray",
                "--ray-address",
                "http://127.0.0.1:9",
                "--storage",
                "/tmp/shared",
                "--storage-option",
                "endpoint_url=http://x",
            ],
            "--storage-option goes with an object-store --storage URL",
        ),
        (
            [
                "--executor",
                "ray",
                "--ray-address",
                "http://127.0.0.1:9",
                "--storage",
                "s3://bucket/jobs",
                "--storage-option",
                "endpoint_url",
            ],
            "--storage-option 'endpoint_url': use KEY=VALUE",
        ),
        (["--executor", "sim", "--ray-address", "http://127.0.0.1:9"], "go with --executor ray"),
    ],
)
def test_a_ray_option_the_server_cannot_use_is_one_line_and_exit_2(tmp_path, args, words):
    done = serve(tmp_path, *args)
    assert done.returncode == 2, done.stderr
    assert words in done.stderr
    assert "Traceback" not in done.stderr
