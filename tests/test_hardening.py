"""Hardening: no other local user can reach a bayesinv process, no run loses finished work,
no bad input gives a silent wrong number. Each probe of the reliability audit (issue 17) is
a test here, with the exact message it must give."""

from __future__ import annotations

import os
import socket
import ssl
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


# -- 1. the Dask executor: TLS with per-run credentials -------------------------------------

def _listening(pids):
    import psutil

    return sorted({c.laddr for c in psutil.net_connections(kind="inet")
                   if c.status == psutil.CONN_LISTEN and c.pid in pids})


def _tls_handshake_without_certificate(ip, port) -> str:
    """What a peer without the run's client certificate gets from (ip, port)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection((ip, port), timeout=10) as raw, \
            ctx.wrap_socket(raw) as tls:
        tls.settimeout(10)
        try:
            tls.sendall(b"\x00" * 16)
            data = tls.recv(16)  # TLS 1.3: the server's verdict arrives after the handshake
        except (ssl.SSLError, ConnectionError) as exc:
            return type(exc).__name__
        return "closed" if not data else f"answered {data!r}"


@pytest.mark.dask
def test_local_dask_cluster_refuses_clients_without_the_runs_credentials():
    """A client with no certificate, or with another self-signed one, cannot submit work to
    the executor's LocalCluster; plain TCP and certificate-less TLS to every listening port
    of the scheduler and workers are refused; the HTTP servers serve nothing."""
    import psutil
    from distributed import Client
    from distributed.security import Security

    from bayesinv.hpc.executors import DaskExecutor

    with DaskExecutor(1) as ex:
        assert ex.client.submit(os.getpid).result() != os.getpid()  # it works with them
        address = ex.client.scheduler.address
        assert address.startswith("tls://127.0.0.1:")
        for security in (None, Security.temporary()):  # none / someone else's
            with pytest.raises((OSError, TypeError)):
                Client(address.replace("tls://", "tcp://") if security is None else address,
                       security=security, timeout=5)
        me = psutil.Process()
        pids = {me.pid, *(c.pid for c in me.children(recursive=True))}
        ports = _listening(pids)
        worker_ports = {int(a.rsplit(":", 1)[1]) for a in ex.client.scheduler_info()["workers"]}
        scheduler_port = int(address.rsplit(":", 1)[1])
        assert {scheduler_port, *worker_ports} <= {p for _, p in ports}
        for ip, port in ports:
            assert ip == "127.0.0.1"
            with socket.create_connection((ip, port), timeout=10) as s:
                s.settimeout(10)
                s.sendall(b"GET /health HTTP/1.0\r\n\r\n")
                try:
                    reply = s.recv(64)
                except (ConnectionError, TimeoutError):
                    reply = b""
            # an HTTP server answers 404 (no routes); a comm port drops plain text
            assert reply == b"" or reply.startswith(b"HTTP/1.1 404"), (port, reply)
        for port in (scheduler_port, *worker_ports):
            verdict = _tls_handshake_without_certificate("127.0.0.1", port)
            assert not verdict.startswith("answered"), (port, verdict)
