#!/usr/bin/env python3
"""Run a command with its stdout on a real terminal, for `make bench`.

    ptysink.py COMMAND [ARG...]

The command's stdout is the slave of a new pseudo-terminal (120x40); its
stdin and stderr stay ours, so the bench still holds stdin open and watches
stderr for "[ws closed]". Everything the command prints is read from the
master as fast as it comes and thrown away, as a fast terminal would.
Exits with the command's status.
"""

import fcntl
import os
import pty
import struct
import sys
import termios

COLS, ROWS = 120, 40
CHUNK = 1 << 16


def main() -> int:
    argv = sys.argv[1:]
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    pid = os.fork()
    if pid == 0:
        os.close(master)
        os.setsid()
        # The terminal becomes the controlling one, as in a real session.
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        os.dup2(slave, 1)
        os.close(slave)
        os.execvp(argv[0], argv)
    os.close(slave)
    while True:
        try:
            if not os.read(master, CHUNK):
                break
        except OSError:  # EIO: the last writer closed the slave
            break
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
