"""A delaying HTTP proxy in front of moto: the latency model of infra/bench.py (--dynamodb-latency-ms).

On AWS each DynamoDB call is a network round trip of a few milliseconds; against moto on loopback it
is almost free, so a request's sequential calls hide. This proxy holds every call for `delay` seconds
before forwarding it, one thread per client connection (kept alive, as the SDK keeps them), so calls
the service makes in parallel overlap here as they would on AWS, and calls it makes one after the other
add up. It records each call's span (start, end, operation) for the benchmark to count the sequential
round trips of a request. Only 127.0.0.1. Standard library only: the benchmark's Python has nothing else.
"""
import http.client
import http.server
import socketserver
import threading
import time

HOP_HEADERS = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host",
               "content-length"}


class CallLog:
    """Spans of the calls the proxy forwarded: (start, end, operation), in perf_counter seconds."""

    def __init__(self):
        self.lock = threading.Lock()
        self.spans = []

    def add(self, start: float, end: float, operation: str) -> None:
        with self.lock:
            self.spans.append((start, end, operation))

    def between(self, start: float, end: float) -> list:
        """The calls that started within [start, end] (a request's own calls, sent while it was served)."""
        with self.lock:
            return [span for span in self.spans if start <= span[0] <= end]

    def clear(self) -> None:
        with self.lock:
            self.spans.clear()


def sequential_rounds(spans: list) -> int:
    """Calls that overlap in time count once: the round trips a request waited for one after another."""
    rounds, round_end = 0, None
    for start, end, _ in sorted(spans):
        if round_end is not None and start < round_end:
            round_end = max(round_end, end)
        else:
            rounds += 1
            round_end = end
    return rounds


class LatencyProxy:
    """Listens on a free loopback port and forwards to `upstream_port`, `delay` seconds later."""

    def __init__(self, upstream_port: int, delay: float):
        self.upstream_port, self.delay, self.calls = upstream_port, delay, CallLog()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The answer in one write, sent at once: headers and body written apart meet the
            # client's delayed ACK (Nagle), which held some answers 40 ms.
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet: the benchmark prints its own report
                pass

            def finish(self):
                super().finish()
                if getattr(self, "_upstream", None) is not None:
                    self._upstream.close()

            def upstream(self) -> http.client.HTTPConnection:
                conn = getattr(self, "_upstream", None)
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                    self._upstream = conn
                return conn

            def forward(self):
                started = time.perf_counter()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                operation = (self.headers.get("X-Amz-Target") or self.path).rsplit(".", 1)[-1]
                time.sleep(proxy.delay)
                try:
                    conn = self.upstream()
                    conn.request(self.command, self.path, body=body, headers=headers)
                    answer = conn.getresponse()
                    data = answer.read()
                except (OSError, http.client.HTTPException):
                    self._upstream = None
                    self.send_error(502)
                    return
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in HOP_HEADERS:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
                proxy.calls.add(started, time.perf_counter(), operation)

            do_GET = do_POST = do_PUT = do_DELETE = forward

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "LatencyProxy":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
