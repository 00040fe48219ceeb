#!/usr/bin/env python3
"""Run one command on a real pseudo-terminal, for the local LAP platform.

    ptyhost.py COLS ROWS COMMAND [ARG...]

stdin  -> the pty master, byte for byte (keystrokes)
stdout <- the pty master, byte for byte (terminal output)
fd 3   -> control lines "COLS ROWS\\n": resize the pty (TIOCSWINSZ), so the
          program gets SIGWINCH and `tput cols` reports the new width.

Why Python: Node has no pty without a native addon, and util-linux `script`
cannot be resized from outside (it copies the size of its own stdin, which is a
pipe here). Python's standard library has openpty, fcntl and termios.

Exits with the program's status when the program exits. When stdin or the
control channel closes, or on SIGTERM/SIGHUP, hangs up the program's process
group (SIGHUP, then SIGKILL after a grace period) and exits.
"""

import errno
import fcntl
import os
import select
import signal
import struct
import sys
import termios
import time

CONTROL_FD = 3
READ_SIZE = 65536
# A program that ignores SIGHUP gets this long before SIGKILL.
KILL_GRACE_S = 2.0
# How often the loop checks whether the program has exited even though the
# master has not reported EIO (e.g. a grandchild still holds the slave open).
POLL_S = 0.5
# Stop reading stdin while this much input waits for the program to read it.
MAX_PENDING_INPUT = 1 << 20


def set_size(fd, cols, rows):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def spawn(argv, cols, rows):
    master, slave = os.openpty()
    # Size the pty before the program starts so its first paint is right.
    set_size(slave, cols, rows)
    pid = os.fork()
    if pid == 0:
        try:
            os.close(master)
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            if slave > 2:
                os.close(slave)
            try:
                os.close(CONTROL_FD)
            except OSError:
                pass
            os.execvp(argv[0], argv)
        except Exception as e:  # exec failed: report on the pty, exit 127
            os.write(2, ("ptyhost: %s: %s\r\n" % (argv[0], e)).encode())
        os._exit(127)
    os.close(slave)
    return pid, master


def write_all(fd, data):
    while data:
        n = os.write(fd, data)
        data = data[n:]


class Host:
    def __init__(self, pid, master):
        self.pid = pid
        self.master = master
        self.status = None
        self.hangup_at = None
        self.control_buf = b""
        self.to_pty = bytearray()
        self.stdin_open = True
        self.control_open = True

    def hang_up(self):
        if self.hangup_at is not None:
            return
        self.hangup_at = time.monotonic()
        self.signal_group(signal.SIGHUP)

    def signal_group(self, sig):
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            # The child has not called setsid yet: its group does not exist.
            try:
                os.kill(self.pid, sig)
            except OSError:
                pass
        except OSError:
            pass

    def reap(self, flags):
        if self.status is not None:
            return True
        try:
            pid, status = os.waitpid(self.pid, flags)
        except ChildProcessError:
            self.status = 0
            return True
        if pid == 0:
            return False
        self.status = status
        return True

    def on_control(self):
        try:
            data = os.read(CONTROL_FD, 4096)
        except BlockingIOError:
            return
        if not data:
            self.control_open = False
            self.hang_up()
            return
        self.control_buf += data
        while b"\n" in self.control_buf:
            line, self.control_buf = self.control_buf.split(b"\n", 1)
            parts = line.split()
            if len(parts) != 2:
                continue
            try:
                cols, rows = int(parts[0]), int(parts[1])
            except ValueError:
                continue
            if 0 < cols < 10000 and 0 < rows < 10000:
                set_size(self.master, cols, rows)

    def on_stdin(self):
        try:
            data = os.read(0, READ_SIZE)
        except BlockingIOError:
            return
        if not data:
            self.stdin_open = False
            self.hang_up()
            return
        self.to_pty += data

    def flush_to_pty(self):
        try:
            n = os.write(self.master, self.to_pty)
            del self.to_pty[:n]
        except BlockingIOError:
            pass
        except OSError:
            self.to_pty.clear()

    def on_master(self):
        """Copies output to stdout; False once the pty is gone."""
        try:
            data = os.read(self.master, READ_SIZE)
        except BlockingIOError:
            return True
        except OSError as e:
            if e.errno == errno.EIO:  # every slave fd closed: program gone
                return False
            raise
        if not data:
            return False
        try:
            write_all(1, data)
        except BrokenPipeError:
            self.hang_up()
        return True

    def drain_master(self):
        while self.on_master():
            r, _, _ = select.select([self.master], [], [], 0)
            if not r:
                return

    def run(self):
        os.set_blocking(self.master, False)
        while True:
            if self.hangup_at is not None and time.monotonic() - self.hangup_at > KILL_GRACE_S:
                self.signal_group(signal.SIGKILL)
            rlist = [self.master]
            if self.stdin_open and len(self.to_pty) < MAX_PENDING_INPUT:
                rlist.append(0)
            if self.control_open:
                rlist.append(CONTROL_FD)
            wlist = [self.master] if self.to_pty else []
            r, w, _ = select.select(rlist, wlist, [], POLL_S)
            if self.master in r and not self.on_master():
                break
            if 0 in r:
                self.on_stdin()
            if CONTROL_FD in r:
                self.on_control()
            if self.master in w:
                self.flush_to_pty()
            if self.reap(os.WNOHANG):
                self.drain_master()
                break
        if not self.reap(os.WNOHANG):
            # The pty is gone but the program lingers: make sure it ends.
            self.hang_up()
            deadline = time.monotonic() + KILL_GRACE_S
            while not self.reap(os.WNOHANG) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not self.reap(os.WNOHANG):
                self.signal_group(signal.SIGKILL)
                self.reap(0)
        return exit_code(self.status)


def exit_code(status):
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return 1


def main(argv):
    if len(argv) < 4:
        sys.stderr.write("usage: ptyhost.py COLS ROWS COMMAND [ARG...]\n")
        return 2
    cols, rows = int(argv[1]), int(argv[2])
    # Checked before openpty, which would otherwise take fd 3 when it is free.
    has_control = fd_is_open(CONTROL_FD)
    pid, master = spawn(argv[3:], cols, rows)
    host = Host(pid, master)
    host.control_open = has_control

    def on_signal(_sig, _frame):
        host.hang_up()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    return host.run()


def fd_is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main(sys.argv))
