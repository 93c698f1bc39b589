"""A TCP proxy to a database that a test can freeze: while frozen it reads nothing and sends
nothing, and every connection stays open (the kernel still acknowledges), as a stopped
server, a paused VM or a proxy that stopped forwarding looks from outside."""

import socket
import threading
import time


class FreezableProxy:
    """Forwards 127.0.0.1:port to the database; while frozen it reads nothing and sends
    nothing, and every connection stays open (the kernel still acknowledges)."""

    def __init__(self, target_port):
        self.target = target_port
        self.frozen = threading.Event()
        self.closing = threading.Event()
        self.sockets = []
        self.listener = socket.socket()
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closing.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(('127.0.0.1', self.target))
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src, dst):
        while not self.closing.is_set():
            if self.frozen.is_set():
                time.sleep(0.05)
                continue
            try:
                src.settimeout(0.05)
                data = src.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if not data:
                break
            try:
                dst.sendall(data)
            except OSError:
                return
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.frozen.clear()
        self.closing.set()
        self.listener.close()
        for s in self.sockets:
            s.close()
