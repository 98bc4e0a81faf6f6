"""A TCP relay to PostgreSQL that can hang up, to take the database away and give it back."""

import contextlib
import socket
import threading


class DatabaseSwitch:
    """Relays 127.0.0.1:``port`` to the server at ``target`` while up.

    Down, it closes every connection it relays and each new one as soon as it
    is accepted, as a server that is restarting or gone does, and counts
    those it refused.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.up = True
        self.refused = 0
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="database-switch", daemon=True)
        self._thread.start()

    def down(self) -> None:
        with self._lock:
            self.up = False
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _close(sock)

    def back(self) -> None:
        self.up = True

    def close(self) -> None:
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


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
