"""Start moto's server (DynamoDB, SES, Secrets Manager) on loopback, one request at a time.

moto's threaded server does not make conditional writes atomic under concurrent requests; serving
requests one by one gives each request the atomicity DynamoDB has, so concurrency tests test our
use of conditional writes. With --exit-with-parent the server stops when the process that started
it (a test run) ends. GET /_tests/ses-messages.json lists the emails SES accepted (for tests).
"""
import argparse
import json
import os
import sys
import threading
import time

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


def watch_parent(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(0)
        time.sleep(0.5)


SES_MESSAGES_PATH = "/_tests/ses-messages.json"


def sent_ses_messages() -> list:
    """Every email moto's SES has accepted, as moto-api/data.json lists them (`.ses.Message[]`),
    without serializing every other model (data.json walks every DynamoDB item: slow on big tables)."""
    from moto.ses.models import Message, ses_backends

    messages = []
    for account in ses_backends.values():
        for backend in account.values():
            for message in getattr(backend, "sent_messages", []):
                if isinstance(message, Message):
                    messages.append(
                        {
                            "id": message.id,
                            "source": message.source,
                            "subject": message.subject,
                            "body": message.body,
                            "destinations": message.destinations,
                        }
                    )
    return messages


def with_test_endpoints(app):
    def serve(environ, start_response):
        if environ.get("PATH_INFO") == SES_MESSAGES_PATH:
            body = json.dumps({"ses": {"Message": sent_ses_messages()}}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return app(environ, start_response)

    return serve


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--exit-with-parent", action="store_true")
    args = parser.parse_args()
    if args.exit_with_parent:
        threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    app = with_test_endpoints(DomainDispatcherApplication(create_backend_app))
    print(f"moto listening on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    run_simple(args.host, args.port, app, threaded=False, use_reloader=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
