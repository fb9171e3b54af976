"""``make run``: the web server and the clock process side by side, stopped together.

    python -m portal.devserver [--host 127.0.0.1] [--port 5000]

Ctrl-C reaches both children directly (the terminal signals its whole foreground process
group); SIGTERM sent to this process is passed on to them. If either child stops by itself the
other is stopped too, so the portal never runs without its clock unnoticed. The exit status is
1 if a child failed (other than being stopped by a signal), else 0.
"""

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

# How long a child may take to finish what it is doing (the clock waits for running jobs).
STOP_TIMEOUT_SECONDS = 30


class Stop(Exception):
    """Raised in the main loop by the SIGTERM handler."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="5000")
    arguments = parser.parse_args(argv)
    flask = str(Path(sys.executable).with_name("flask"))
    commands = {
        "web": [flask, "run", "--host", arguments.host, "--port", arguments.port],
        "clock": [flask, "scheduler", "run"],
    }

    def stop(_signum, _frame):
        raise Stop

    signal.signal(signal.SIGTERM, stop)
    children = {name: subprocess.Popen(command) for name, command in commands.items()}
    try:
        while all(child.poll() is None for child in children.values()):
            time.sleep(0.2)
        stopped = next(name for name, child in children.items() if child.poll() is not None)
        print(f"devserver: the {stopped} process stopped; stopping the other", file=sys.stderr)
    except (KeyboardInterrupt, Stop):
        pass
    finally:
        # A second Ctrl-C (or SIGTERM) must not interrupt the stopping and orphan a child.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _stop_all(children.values())
    stopped_by_signal = (0, -signal.SIGTERM, -signal.SIGINT)
    return int(any(child.returncode not in stopped_by_signal for child in children.values()))


def _stop_all(children) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


if __name__ == "__main__":
    sys.exit(main())
