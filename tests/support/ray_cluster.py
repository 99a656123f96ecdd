"""A real local Ray cluster for the tests and benches: one head on loopback, free ports.

``ray start --head --block`` runs in its own session; stopping it (SIGTERM, then SIGKILL of
that session) ends this cluster only — never ``ray stop``, which would end every Ray
cluster of this user on the machine. Its Ray jobs are stopped first: their entrypoints run
in sessions of their own and would outlive the head.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from support.live_server import free_port


@dataclass
class RayCluster:
    address: str  #: the dashboard (Jobs API) URL
    temp_dir: Path
    proc: subprocess.Popen
    log_path: Path

    def client(self):
        from ray.job_submission import JobSubmissionClient

        return JobSubmissionClient(self.address)

    def jobs(self, prefix: str = "") -> list:
        """The Ray jobs whose submission id starts with ``prefix``."""
        return [j for j in self.client().list_jobs() if (j.submission_id or "").startswith(prefix)]

    def stop_jobs(self, timeout: float = 10) -> None:
        client = self.client()
        live = [
            j.submission_id
            for j in client.list_jobs()
            if j.submission_id and str(j.status) in ("PENDING", "RUNNING")
        ]
        for sid in live:
            try:
                client.stop_job(sid)
            except Exception:
                pass
        deadline = time.monotonic() + timeout
        while live and time.monotonic() < deadline:
            live = [s for s in live if str(client.get_job_status(s)) in ("PENDING", "RUNNING")]
            time.sleep(0.5)

    def stop(self) -> None:
        try:
            self.stop_jobs()
        except Exception:
            pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        try:  # whatever of this session is left (raylet, GCS, workers)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.proc.poll() is None:
            self.proc.wait(timeout=10)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def start_cluster(num_cpus: int = 4, timeout: float = 120) -> RayCluster:
    """Start a head node (``num_cpus`` logical CPUs) and wait until its Jobs API answers."""
    # a short path: Ray's unix sockets live under it (108-byte limit)
    temp_dir = Path(tempfile.mkdtemp(prefix="ftr", dir="/tmp"))
    dashboard = free_port()
    ports = {
        "--port": free_port(),
        "--dashboard-port": dashboard,
        "--node-manager-port": free_port(),
        "--object-manager-port": free_port(),
        "--dashboard-agent-grpc-port": free_port(),
        "--dashboard-agent-listen-port": free_port(),
        "--metrics-export-port": free_port(),
        "--runtime-env-agent-port": free_port(),
        "--ray-client-server-port": free_port(),
    }
    ray = str(Path(sys.executable).with_name("ray"))
    args = [
        ray,
        "start",
        "--head",
        "--block",
        "--node-ip-address",
        "127.0.0.1",
        "--dashboard-host",
        "127.0.0.1",
        "--disable-usage-stats",
        "--include-dashboard",
        "true",
        "--num-cpus",
        str(num_cpus),
        "--num-gpus",
        "0",
        "--temp-dir",
        str(temp_dir),
    ]
    for flag, port in ports.items():
        args += [flag, str(port)]
    log_path = temp_dir / "ray-start.log"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_DEDUP_LOGS": "0"}
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
    address = f"http://127.0.0.1:{dashboard}"
    cluster = RayCluster(address, temp_dir, proc, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = log_path.read_text(errors="replace")
            shutil.rmtree(temp_dir, ignore_errors=True)
            raise RuntimeError(f"ray start exited early:\n{text[-3000:]}")
        # the dashboard can answer before the node is up (on a loaded machine the raylet
        # may still time out): ready once `ray start` says the runtime started
        started = "Ray runtime started" in log_path.read_text(errors="replace")
        try:
            with urllib.request.urlopen(f"{address}/api/version", timeout=2) as resp:
                if resp.status == 200 and started:
                    cluster.client().list_jobs()
                    return cluster
        except Exception:
            pass
        time.sleep(0.5)
    cluster.stop()
    raise RuntimeError(f"the Ray head did not answer in {timeout}s")
