"""A real S3-compatible server on loopback (moto's ``ThreadedMotoServer``), for
``--storage s3://…``: a stand-in for AWS, not for any part of fttui.

Its clients (the server, the Ray jobs) reach it with ``endpoint_url`` and the dummy
credentials of :data:`S3_ENV`; a bucket is made with :meth:`S3Server.make_bucket`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from support.live_server import free_port

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class S3Server:
    endpoint: str
    server: Any

    def fs(self):
        import s3fs

        return s3fs.S3FileSystem(
            key=S3_ENV["AWS_ACCESS_KEY_ID"],
            secret=S3_ENV["AWS_SECRET_ACCESS_KEY"],
            endpoint_url=self.endpoint,
            skip_instance_cache=True,
        )

    def make_bucket(self, name: str) -> None:
        """Make bucket ``name`` (moto's store is per process: it may be there already)."""
        try:
            self.fs().mkdir(name)
        except FileExistsError:
            pass

    def stop(self) -> None:
        self.server.stop()


def start_s3() -> S3Server:
    import logging

    from moto.server import ThreadedMotoServer

    # werkzeug logs every request at INFO: a failing test's output would be all S3 calls
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return S3Server(f"http://127.0.0.1:{port}", server)
