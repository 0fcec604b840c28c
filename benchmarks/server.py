"""nginx on loopback with the harness's own config: the server the benchmarks measure clients against.

HTTP/1.1 on one port, HTTP/2 over TLS (trustme certificate) on another; static 1 KiB, 100 KiB and
100 MiB files; `POST /post` answers 200 from nginx itself; `POST /upload` answers "ok" after reading
the whole request body (the echo module's `echo_read_request_body`). One worker process (the machine
has two cores: one for the server, one for the client under test). nginx-light and the echo module
are installed with apt-get when missing.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import trustme

__all__ = ["NginxServer", "ensure_nginx"]

SIZES = {"1k": 1024, "100k": 100 * 1024, "100m": 100 * 1024 * 1024}


#: Debian's dynamic echo module (libnginx-mod-http-echo): `echo_read_request_body` for POST /upload.
ECHO_MODULE = Path("/usr/lib/nginx/modules/ngx_http_echo_module.so")
PACKAGES = ["nginx-light", "libnginx-mod-http-echo", "wrk", "nghttp2-client"]


def ensure_nginx() -> str:
    """The nginx binary; installs Debian's nginx-light, its echo module (and wrk, h2load) if missing
    and we are root."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found and ECHO_MODULE.exists():
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"nginx or its echo module is missing: installing {', '.join(PACKAGES)} with apt-get ...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, stdout=subprocess.DEVNULL)
        result = subprocess.run(
            ["apt-get", "install", "-y", "-qq", *PACKAGES],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
        if result.returncode == 0 and found and ECHO_MODULE.exists():
            subprocess.run(["service", "nginx", "stop"], check=False, capture_output=True)
            return found
        raise SystemExit(f"Cannot install {' '.join(PACKAGES)} with apt-get: {result.stderr.strip()[-500:]}")
    raise SystemExit(
        "The benchmarks need nginx and its echo module on this machine: install Debian's packages "
        f"(apt-get install {' '.join(PACKAGES)}) and run again."
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CONFIG = """
load_module {echo_module};
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{http_port};
        listen 127.0.0.1:{https_port} ssl http2;
        ssl_certificate {root}/server.pem;
        ssl_certificate_key {root}/server.key;
        root {root}/www;
        location = /post {{ client_max_body_size 10m; return 200 "ok"; }}
        location = /upload {{
            client_max_body_size 10m;
            client_body_buffer_size 2m;
            echo_read_request_body;
            echo "ok";
        }}
        location / {{ }}
    }}
}}
"""


class NginxServer:
    def __init__(self) -> None:
        self.binary = ensure_nginx()
        self._tmp = tempfile.TemporaryDirectory(prefix="tether-bench-")
        self.root = Path(self._tmp.name)
        self.http_port = _free_port()
        self.https_port = _free_port()
        self.ca_file = str(self.root / "ca.pem")
        self._process: subprocess.Popen[bytes] | None = None

    def url(self, path: str, tls: bool = False) -> str:
        if tls:
            return f"https://localhost:{self.https_port}{path}"
        return f"http://127.0.0.1:{self.http_port}{path}"

    def start(self) -> NginxServer:
        # nginx's workers run as an unprivileged user: they must be able to read the files.
        self.root.chmod(0o755)
        www = self.root / "www"
        www.mkdir(mode=0o755)
        for name, size in SIZES.items():
            with (www / name).open("wb") as handle:
                block = bytes(range(256)) * 4096  # 1 MiB
                remaining = size
                while remaining:
                    piece = block[: min(remaining, len(block))]
                    handle.write(piece)
                    remaining -= len(piece)
            (www / name).chmod(0o644)
        ca = trustme.CA()
        ca.cert_pem.write_to_path(self.ca_file)
        cert = ca.issue_cert("localhost", "127.0.0.1")
        cert.private_key_and_cert_chain_pem.write_to_path(str(self.root / "server.pem"))
        cert.private_key_pem.write_to_path(str(self.root / "server.key"))
        config = self.root / "nginx.conf"
        config.write_text(
            CONFIG.format(root=self.root, http_port=self.http_port, https_port=self.https_port, echo_module=ECHO_MODULE)
        )
        self._process = subprocess.Popen(
            [self.binary, "-c", str(config), "-p", str(self.root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise SystemExit(
                    f"nginx exited: {self._process.stderr.read().decode() if self._process.stderr else ''}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.http_port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise SystemExit("nginx did not start listening within 10 s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGQUIT)
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._tmp.cleanup()

    def __enter__(self) -> NginxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
