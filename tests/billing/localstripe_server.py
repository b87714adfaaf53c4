"""Run localstripe on a loopback port, with its state in memory only.

``python tests/billing/localstripe_server.py`` prints ``PORT <n>`` once it listens.
localstripe's own entry point binds every interface (``::``) on a fixed port and
pickles its state to /tmp/localstripe.pickle after every write, which two test
runs on one machine would share; this launcher binds 127.0.0.1 on a free port
and keeps the state in the process.
"""

from __future__ import annotations

import socket
import sys

from aiohttp import web
from localstripe import resources
from localstripe.server import app


def main() -> None:
    resources.Store.dump_to_disk = lambda self: None
    resources.Store.try_load_from_disk = lambda self: None
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    web.run_app(app, sock=sock, print=None, access_log=None, handle_signals=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
