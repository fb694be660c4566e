"""Runs a command on a pseudo-terminal of a given width and prints every byte
it wrote there, for tests of what a person sees: run_in_pty.py COLUMNS CMD [ARG ...].
Exits with the command's status."""
import fcntl
import os
import pty
import struct
import sys
import termios

columns = int(sys.argv[1])
pid, master = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
# The child may ask before the size is set: tell it again that it changed.
os.kill(pid, 28)  # SIGWINCH
output = bytearray()
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError:
        break
    if not chunk:
        break
    output += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(bytes(output))
sys.exit(os.waitstatus_to_exitcode(status))
