"""`python -m labrun.prefix NAME -- CMD...`: become CMD, its output printed as `NAME | line`.

The process execs CMD, so supervisord supervises, signals and restarts the command itself; a forked
printer reads CMD's output from a pipe and prints it. JSON log lines are shown as `time LEVEL message
key=value ...`, so the combined log of the whole lab reads as one line per event, prefixed by the
process. The printer ignores stop signals and exits when the last writer closes the pipe.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

WIDTH = 14
CHUNK_BYTES = 65536
# After a read, the printer lets lines gather for this long before the next one (unless the read filled
# its buffer): a busy service's lines cost it, and supervisord after it, a wake-up and a write per
# 20 ms instead of one per line, for a delay no one watching can see.
GATHER_S = 0.02
_SHOWN = ("ts", "level", "service", "logger", "message")


def readable(line: str) -> str:
    try:
        event = json.loads(line)
    except ValueError:
        return line
    if not isinstance(event, dict) or "message" not in event:
        return line
    extras = " ".join(f"{key}={value}" for key, value in event.items() if key not in _SHOWN)
    clock = str(event.get("ts", ""))[11:23]
    return f"{clock} {event.get('level', ''):<7} {event['message']}" + (f"  {extras}" if extras else "")


def print_lines(name: str, fd: int) -> None:
    """Print the lines read, all the lines of one read in one write, reading at most every GATHER_S."""
    label = f"{name:<{WIDTH}}| "
    pending = b""
    while chunk := os.read(fd, CHUNK_BYTES):
        *lines, pending = (pending + chunk).split(b"\n")
        if lines:
            text = "".join(f"{label}{readable(line.decode(errors='replace').rstrip())}\n" for line in lines)
            sys.stdout.write(text)
            sys.stdout.flush()
        if len(chunk) < CHUNK_BYTES:
            time.sleep(GATHER_S)
    if pending:
        print(f"{label}{readable(pending.decode(errors='replace').rstrip())}", flush=True)
    os.close(fd)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m labrun.prefix NAME -- CMD...", file=sys.stderr)
        return 2
    name, command = argv[0], argv[2:]
    read_end, write_end = os.pipe()
    if os.fork() == 0:
        os.close(write_end)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_IGN)
        print_lines(name, read_end)
        os._exit(0)
    os.close(read_end)
    os.dup2(write_end, sys.stdout.fileno())
    os.dup2(write_end, sys.stderr.fileno())
    os.close(write_end)
    os.execvp(command[0], command)  # noqa: S606 (an argument list, as supervisord gave it)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
