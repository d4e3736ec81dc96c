"""A bare TCP relay between a client and the sandbox: it only copies bytes, a reference for
what a proxy costs on this machine.

`python -m bench.relay LISTEN_PORT TARGET_PORT` forwards every connection to the target,
byte for byte, one thread per direction. It parses nothing and checks nothing, so its
throughput is the ceiling for a proxy on this machine: the panel is measured against it.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading

BUFFER_BYTES = 1024 * 1024


def pump(source: socket.socket, sink: socket.socket) -> None:
    buffer = bytearray(BUFFER_BYTES)
    view = memoryview(buffer)
    with contextlib.suppress(OSError):
        while received := source.recv_into(buffer):
            sink.sendall(view[:received])
    for sock, how in ((sink, socket.SHUT_WR), (source, socket.SHUT_RD)):
        with contextlib.suppress(OSError):
            sock.shutdown(how)


def relay(client: socket.socket, target_port: int) -> None:
    with client, socket.create_connection(("127.0.0.1", target_port)) as upstream:
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
        back.start()
        pump(client, upstream)
        back.join()


def serve(listen_port: int, target_port: int) -> None:
    with socket.create_server(("127.0.0.1", listen_port)) as server:
        while True:
            client, _ = server.accept()
            threading.Thread(target=relay, args=(client, target_port), daemon=True).start()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
