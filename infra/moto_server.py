"""Start moto's server (DynamoDB, SES, Secrets Manager) on loopback, one request at a time.

moto's threaded server does not make conditional writes atomic under concurrent requests; serving
requests one by one gives each request the atomicity DynamoDB has, so concurrency tests test our
use of conditional writes. With --exit-with-parent the server stops when the process that started
it (a test run) ends. GET /_tests/ses-messages.json lists the emails SES accepted (for tests).
Two moto hot spots are patched so large-team tests run in seconds, with the same wire results:
TransactWriteItems rolls back per item instead of copying whole tables
(`roll_back_transactions_per_item`), and item-reading answers skip moto's shape-walking serializer
(`serialize_item_reads_directly`).
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


def roll_back_transactions_per_item() -> None:
    """Make moto's TransactWriteItems snapshot only the items it touches.

    moto 5 deep-copies every table a transaction names, once per action, to be able to roll back a
    cancelled transaction: O(table size x actions) per call. A 10,000-member PATCH (101
    transactions of 100 actions against a table of 10,000+ items) then takes over 25 minutes and
    14 GB. This wrapper keeps moto's own transaction logic (conditions, cancellation reasons,
    duplicate-key check) but makes its table copy the identity, and on any failure restores the
    touched items from their own snapshots, newest first. Same outcome, O(actions) per call.
    """
    import copy

    from moto.dynamodb import models as dynamodb_models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    class TablesAreNotCopied:
        """Stands in for the `copy` module inside moto.dynamodb.models during one transaction."""

        def __getattr__(self, name):
            return getattr(copy, name)

        @staticmethod
        def deepcopy(obj, memo=None):
            return obj if isinstance(obj, Table) else copy.deepcopy(obj, memo)

    original = dynamodb_models.DynamoDBBackend.transact_write_items

    def touched_key(backend, action):
        try:
            (op_type, op), = action.items()
            table = backend.tables[op["TableName"]]
            attrs = op["Item"] if op_type == "Put" else op["Key"]
            hash_value = DynamoType(attrs[table.hash_key_attr])
            range_value = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
            return table, hash_value, range_value
        except (KeyError, TypeError, ValueError):
            return None  # malformed: moto's own code rejects it before writing anything

    def restore(table, hash_value, range_value, item):
        if range_value is None:
            if item is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = item
        elif item is None:
            table.items.get(hash_value, {}).pop(range_value, None)
        else:
            table.items[hash_value][range_value] = item

    def transact_write_items(self, transact_items):
        snapshots = []
        for action in transact_items if isinstance(transact_items, list) else []:
            key = touched_key(self, action)
            if key is not None:
                table, hash_value, range_value = key
                current = table.get_item(hash_value, range_value)
                snapshots.append((table, hash_value, range_value, copy.deepcopy(current)))
        dynamodb_models.copy = TablesAreNotCopied()
        try:
            return original(self, transact_items)
        except BaseException:
            for table, hash_value, range_value, item in reversed(snapshots):
                restore(table, hash_value, range_value, item)
            raise
        finally:
            dynamodb_models.copy = copy

    dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items


# DynamoDB answers that are items (already DynamoDB JSON, as the client sent them) and counts.
ITEM_READS = {"GetItem", "BatchGetItem", "Query", "Scan"}


def serialize_item_reads_directly() -> None:
    """Answer item reads with json.dumps instead of moto's generic response serializer.

    moto's serializer walks the botocore shape of every attribute of every item; for a Query or
    BatchGetItem returning thousands of items that is >70% of the server's time. These results are
    plain dicts in DynamoDB JSON already, so the JSON text is the same. Anything else (or anything
    json cannot encode) goes through moto's serializer as before.
    """
    from moto.dynamodb.responses import DynamoResult

    original = DynamoResult.execute_result

    def execute_result(self, context):
        if context.operation_model.name in ITEM_READS and isinstance(self.result, dict):
            try:
                body = json.dumps(self.result, separators=(",", ":"))
            except (TypeError, ValueError):
                return original(self, context)
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, body
        return original(self, context)

    DynamoResult.execute_result = execute_result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--exit-with-parent", action="store_true")
    args = parser.parse_args()
    if args.exit_with_parent:
        threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    roll_back_transactions_per_item()
    serialize_item_reads_directly()
    app = with_test_endpoints(DomainDispatcherApplication(create_backend_app))
    print(f"moto listening on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    run_simple(args.host, args.port, app, threaded=False, use_reloader=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
