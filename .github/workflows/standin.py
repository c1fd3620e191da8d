"""Stand-in for the private web and API images in e2e.yml (the ci stack runs it for both tiers).

Answers every GET on ports 3000 (web) and 8000 (api) with 200 and ``{"port": ..., "path": ...}``,
so the health paths of both probes pass and a check through Traefik sees which tier a route reached.
Standard library only; runs as UID 1000 on a read-only root file system. ``python standin.py [port ...]``
listens on other ports instead (tests/test_workflows.py runs it on free ones).
"""

import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORTS = (3000, 8000)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        body = json.dumps({"port": self.server.server_port, "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's signature)
        pass  # the probes would fill the log


def main() -> None:
    # PID 1 ignores SIGTERM without a handler: the pod would wait out its grace period on every delete.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ports = [int(p) for p in sys.argv[1:]] or PORTS
    servers = [ThreadingHTTPServer(("0.0.0.0", port), Handler) for port in ports]
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
