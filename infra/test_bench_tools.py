"""The benchmark's latency proxy adds no time of its own.

infra/latency_proxy.py holds each DynamoDB call exactly its delay: a proxy that wrote an answer's
headers and body apart met the client's delayed ACK (Nagle's algorithm held the body until the ACK
came, 40 ms on Linux), which made the latency model's p50s ~100 ms instead of ~17.
Run: .venv/bin/python infra/test_bench_tools.py (infra/test.sh).
"""
import http.client
import http.server
import os
import socketserver
import statistics
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from latency_proxy import LatencyProxy  # noqa: E402


class Upstream(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """A small JSON answer in one write: whatever the proxy adds is the proxy's."""

    daemon_threads = True

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                body = b'{"Item": {"pk": {"S": "ORG#a"}}}'
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(("127.0.0.1", 0), Handler)


class LatencyProxyTest(unittest.TestCase):
    def setUp(self):
        self.upstream = Upstream()
        threading.Thread(target=self.upstream.serve_forever, daemon=True).start()
        self.delay = 0.004
        self.proxy = LatencyProxy(self.upstream.server_address[1], self.delay).start()

    def tearDown(self):
        self.proxy.stop()
        self.upstream.shutdown()
        self.upstream.server_close()

    def test_a_kept_alive_call_takes_its_delay_not_a_delayed_ack(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.proxy.port, timeout=10)
        seconds = []
        for i in range(40):
            body = b'{"TableName": "t", "Key": {"pk": {"S": "ORG#a"}}}'
            started = time.perf_counter()
            conn.request("POST", "/", body=body, headers={"X-Amz-Target": "DynamoDB_20120810.GetItem",
                                                           "Content-Type": "application/x-amz-json-1.0"})
            answer = conn.getresponse()
            self.assertEqual(answer.status, 200)
            self.assertIn(b"ORG#a", answer.read())
            seconds.append(time.perf_counter() - started)
        conn.close()
        # 4 ms held, plus a loopback exchange; a delayed ACK would add ~40 ms to most calls.
        self.assertLess(statistics.median(seconds), self.delay + 0.015, seconds)
        self.assertEqual(len(self.proxy.calls.between(0, time.perf_counter())), 40)


if __name__ == "__main__":
    unittest.main()
