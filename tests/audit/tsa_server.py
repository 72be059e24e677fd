#!/usr/bin/env python3
"""A minimal RFC 3161 Time Stamping Authority for tests: answers each POSTed
TimeStampReq with `openssl ts -reply` (OpenSSL's own TSA). Usage: tsa_server.py PORT_FILE
CONFIG; writes the port it listens on to PORT_FILE."""
import http.server
import subprocess
import sys
import tempfile


class TSA(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        with tempfile.NamedTemporaryFile(suffix=".tsq") as q:
            q.write(self.rfile.read(n))
            q.flush()
            out = subprocess.run(["openssl", "ts", "-reply", "-config", sys.argv[2], "-queryfile", q.name],
                                 capture_output=True)
        code = 200 if out.returncode == 0 else 500
        self.send_response(code)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(out.stdout)))
        self.end_headers()
        self.wfile.write(out.stdout)

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), TSA)
with open(sys.argv[1], "w") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
