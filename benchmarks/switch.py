"""A TCP relay to PostgreSQL that can hang up or go silent, to take the database away and back."""

import contextlib
import os
import re
import shutil
import socket
import subprocess
import threading


class DatabaseSwitch:
    """Relays 127.0.0.1:``port`` to the server at ``target`` while up.

    Down, it closes every connection it relays and each new one as soon as it
    is accepted, as a server that is restarting or gone does, and counts
    those it refused. Silent (``down(drop=True)``), the kernel drops every
    packet to and from its port, as when the server's host or the network
    to it fails: nothing is refused or acknowledged, the connections stay
    open and a new one is never answered. That takes nftables and root
    (``drop_unavailable`` says why not).
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.up = True
        self.refused = 0
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._table = f"hotel_switch_{self.port}"
        self._dropping = False
        self.dropped = 0
        self._thread = threading.Thread(target=self._serve, name="database-switch", daemon=True)
        self._thread.start()

    def down(self, *, drop: bool = False) -> None:
        if drop:
            # Set first: a table left half made by a failure is still removed by back().
            self._dropping = True
            with contextlib.suppress(RuntimeError):
                _nft(f"delete table inet {self._table}")  # one a killed run left behind
            loopback = 'iif "lo" ip daddr 127.0.0.1 ip saddr 127.0.0.1 tcp'
            _nft(
                f"add table inet {self._table}",
                f"add chain inet {self._table} input "
                "{ type filter hook input priority 0 ; policy accept ; }",
                f"add rule inet {self._table} input {loopback} dport {self.port} counter drop",
                f"add rule inet {self._table} input {loopback} sport {self.port} counter drop",
            )
            return
        with self._lock:
            self.up = False
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _close(sock)

    def back(self) -> None:
        self._stop_dropping()
        self.up = True

    def _stop_dropping(self) -> None:
        """Let packets through again, adding those dropped to ``dropped``."""
        if not self._dropping:
            return
        self._dropping = False
        try:
            listing = _nft(f"list table inet {self._table}")
            self.dropped += sum(int(n) for n in re.findall(r"counter packets (\d+)", listing))
        finally:
            _nft(f"delete table inet {self._table}")

    def close(self) -> None:
        try:
            self._stop_dropping()
        finally:
            self.down()
            # Wakes the accept() the serving thread waits in; close() alone does not.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._thread.join(timeout=5)

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if not self.up:
                    self.refused += 1
                    _close(client)
                    continue
                try:
                    server = socket.create_connection(self.target, timeout=5)
                except OSError:
                    _close(client)
                    continue
                server.settimeout(None)
                self._sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(sink)
            with self._lock:
                if sink in self._sockets:
                    self._sockets.remove(sink)


def drop_unavailable() -> str | None:
    """Why this machine cannot drop packets for a switch, or None when it can."""
    if os.geteuid() != 0:
        return "dropping packets takes root (nftables)"
    if shutil.which("nft") is None:
        return "dropping packets takes nftables: apt-get install nftables"
    try:
        probe = f"hotel_switch_probe_{os.getpid()}"
        _nft(f"add table inet {probe}", f"delete table inet {probe}")
    except RuntimeError as exc:
        return f"nftables refused a table: {exc}"
    _remove_stale_tables()
    return None


def _remove_stale_tables() -> None:
    """Delete the tables of switches that are gone (a run killed while it dropped).

    Left alone, such a table drops the packets of whatever next uses its
    port on the loopback, a client's ephemeral port included.
    """
    for port in re.findall(r"table inet hotel_switch_(\d+)\b", _nft("list tables")):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", int(port)))
            except OSError:
                continue  # a switch still listens there
        with contextlib.suppress(RuntimeError):
            _nft(f"delete table inet hotel_switch_{port}")


def _nft(*commands: str) -> str:
    """Run nft commands in one transaction; their output."""
    done = subprocess.run(
        ["nft", "-f", "-"],  # noqa: S607
        input="\n".join(commands) + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or f"nft exited with {done.returncode}")
    return done.stdout


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
