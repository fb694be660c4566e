#!/usr/bin/python3
"""Whether splitting a weight-sized message lets libzmq overlap CURVE's encryption with
its decryption: a 407,080-byte payload goes to an echo process and back over tcp
loopback as one message of K frames, and as K separate messages, in plaintext and with
CURVE; prints the median round trip for K = 1, 2, 4, 8, 16.
Usage: /usr/bin/python3 benchmarks/tools/curve-parts.py   (Debian's python3-zmq)"""
import os, statistics, time
from multiprocessing import Process
import zmq

BYTES = 407080

def echo(port, server_public, server_secret):
    socket = zmq.Context().socket(zmq.DEALER)
    if server_public:
        socket.curve_secretkey, socket.curve_publickey, socket.curve_server = server_secret, server_public, True
    socket.bind(f"tcp://127.0.0.1:{port}")
    while True:
        head = socket.recv()
        if head == b"stop":
            return
        kind, count = head.split(b" ")
        if kind == b"multipart":
            socket.send_multipart([head] + socket.recv_multipart(copy=False), copy=False)
        else:
            parts = [socket.recv(copy=False) for _ in range(int(count))]
            socket.send(head)
            for part in parts:
                socket.send(part, copy=False)

def main():
    payload = os.urandom(BYTES)
    for secure in (False, True):
        server_public = server_secret = None
        client = zmq.Context().socket(zmq.DEALER)
        if secure:
            server_public, server_secret = zmq.curve_keypair()
            client.curve_publickey, client.curve_secretkey = zmq.curve_keypair()
            client.curve_serverkey = server_public
        port = 5700 + secure
        peer = Process(target=echo, args=(port, server_public, server_secret))
        peer.start()
        client.connect(f"tcp://127.0.0.1:{port}")
        for count in (1, 2, 4, 8, 16):
            size = -(-BYTES // count)
            parts = [payload[i:i + size] for i in range(0, BYTES, size)]
            for kind in ("multipart", "messages"):
                times = []
                for _ in range(60):
                    start = time.perf_counter()
                    head = f"{kind} {len(parts)}".encode()
                    if kind == "multipart":
                        client.send(head, zmq.SNDMORE)
                        client.send_multipart(parts)
                        client.recv_multipart()
                    else:
                        client.send(head)
                        for part in parts:
                            client.send(part)
                        for _ in range(len(parts) + 1):
                            client.recv()
                    times.append(time.perf_counter() - start)
                print(f"{'CURVE    ' if secure else 'plaintext'} {count:2d} parts as {kind:9s}: "
                      f"round trip median {statistics.median(times[10:]) * 1e3:.3f} ms")
        client.send(b"stop")
        peer.join()

if __name__ == "__main__":
    main()
