"""A real redis-server for the sink tests: started on a free 127.0.0.1 port, killed after.

The binary comes from the system (``redis-server`` on PATH; ``.ci/run`` installs the Debian
package when it is missing). The helper can also kill, restart and pause (SIGSTOP) the
server, which is how the tests make Redis vanish or go slow under a running feed.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Optional

__all__ = ["RedisCluster", "RedisServer", "redis_server_binary"]


def redis_server_binary() -> Optional[str]:
    """The redis-server (or valkey-server) on PATH, or None."""
    return shutil.which("redis-server") or shutil.which("valkey-server")


def _free_port(below: int = 65536) -> int:
    """A port nothing listens on now; ``below`` leaves room for a cluster node's bus port
    (its port + 10000)."""
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port < below:
            return port
    raise RuntimeError(f"no free port below {below}")


class RedisServer:
    """One redis-server process with no persistence, on 127.0.0.1 and a free port."""

    def __init__(self, binary: str, directory: Path, *extra_args: str) -> None:
        self.binary = binary
        self.directory = directory
        self.extra_args = extra_args
        self.port = _free_port(below=55536 if "--cluster-enabled" in extra_args else 65536)
        self.process: Optional[subprocess.Popen[bytes]] = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start (or start again, on the same port) and wait until it answers."""
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory), "--protected-mode", "no",
             *self.extra_args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: gone at once, with everything it held (no persistence). Idempotent."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGCONT)  # a paused server must be able to die
            process.kill()
            process.wait(5)

    def restart(self) -> None:
        """Kill, then start again on the same port."""
        self.kill()
        self.start()

    def pause(self) -> None:
        """SIGSTOP: the server holds its connections but answers nothing (a slow Redis)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after ``pause``."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


class RedisCluster:
    """Three redis-server nodes in cluster mode, no replicas, the slots split between them.

    Built with plain cluster commands (ADDSLOTS, MEET) so that no ``redis-cli`` is needed.
    """

    def __init__(self, binary: str, directory: Path, nodes: int = 3) -> None:
        self.nodes = []
        for i in range(nodes):
            node_dir = directory / f"node{i}"
            node_dir.mkdir()
            self.nodes.append(RedisServer(binary, node_dir, "--cluster-enabled", "yes",
                                          "--cluster-config-file", "nodes.conf"))

    @property
    def url(self) -> str:
        """Any node will do for a cluster client: the first one's URL."""
        return self.nodes[0].url

    def start(self, timeout: float = 10.0) -> RedisCluster:
        """Start every node, give each a share of the 16384 slots, join them, wait for ok."""
        import redis  # the caller has checked that redis-py is there

        for node in self.nodes:
            node.start()
        clients = [redis.Redis(port=node.port) for node in self.nodes]
        try:
            share = 16384 // len(clients)
            for i, client in enumerate(clients):
                last = 16383 if i == len(clients) - 1 else (i + 1) * share - 1
                client.execute_command("CLUSTER", "ADDSLOTS", *range(i * share, last + 1))
            for node in self.nodes[1:]:
                clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", node.port)
            deadline = time.monotonic() + timeout
            while not all(b"cluster_state:ok" in c.execute_command("CLUSTER", "INFO")
                          for c in clients):
                if time.monotonic() > deadline:
                    raise RuntimeError("the test cluster did not come up")
                time.sleep(0.05)
        except BaseException:
            self.kill()
            raise
        finally:
            for client in clients:
                client.close()
        return self

    def kill(self) -> None:
        for node in self.nodes:
            node.kill()
