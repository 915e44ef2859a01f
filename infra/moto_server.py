"""Start moto's server (DynamoDB, SES, Secrets Manager) on loopback, one request at a time.

moto's threaded server does not make conditional writes atomic under concurrent requests; serving
requests one by one gives each request the atomicity DynamoDB has, so concurrency tests test our
use of conditional writes. The server is `serve_one_at_a_time`: HTTP/1.1 with kept-alive
connections, one request at a time in one thread (--werkzeug-server: moto's own, a connection per
request, for before/after timings). With --exit-with-parent the server stops when the process that started
it (a test run) ends. GET /_tests/ses-messages.json lists the emails SES accepted (for tests);
GET /_tests/dynamodb-calls.json counts the DynamoDB requests served, by operation (for infra/bench.py).
Three moto hot spots are patched so large-team tests run in seconds, with the same wire results:
TransactWriteItems rolls back per item instead of copying whole tables
(`roll_back_transactions_per_item`), item-reading answers skip moto's shape-walking serializer
(`serialize_item_reads_directly`), and Query reads one partition (base table or GSI) from an index
instead of sorting and scanning the whole table (`query_partitions_from_an_index`). Two more save
per-request CPU for infra/bench.sh: each UpdateExpression (and ConditionExpression's tokens) is
parsed once (`parse_each_update_expression_once`), and per-request work that gives the same answer every time
is done once (`skip_per_request_overhead`).
infra/test_moto_server.py compares the wire answers with plain moto's.

Why a server of our own rather than a maintained one such as waitress (3.0.2, threads=1, kept-alive
connections, same patched moto app), measured side by side in one run on the 2-core machine:
- many small DynamoDB calls (PutItem, consistent GetItem, Query, in turn) over kept-alive
  connections, median of alternating rounds: 1 client 1.38 ms/call here against 1.93 ms (x1.40);
  8 clients 1.34 against 2.60 ms (x1.94); with Python's thread switch interval cut to 0.2 ms
  (waitress hands each request from its I/O thread to its worker, and the two take turns on the GIL)
  1.24 against 1.58 ms (x1.28);
- the behaviour tests `users_*` (148 tests), two rounds each: 138 s and 166 s here, 167 s and 171 s
  with waitress, 175 s and 149 s with waitress and the shorter switch interval.
One thread that reads, runs moto and writes each answer in one send has no hand-off, so it stays:
it is ~170 lines, answers what the SDKs and boto3 send (Content-Length and chunked bodies, Expect:
100-continue, pipelining, HTTP/1.0 and Connection: close), and infra/test_moto_server.py tests that.
"""
import argparse
from collections import deque
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
# DynamoDB requests served so far, by operation (infra/bench.py reads it around each phase).
DYNAMODB_CALLS_PATH = "/_tests/dynamodb-calls.json"
DYNAMODB_CALLS: dict = {}


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
        if environ.get("PATH_INFO") == DYNAMODB_CALLS_PATH:
            body = json.dumps(DYNAMODB_CALLS).encode()
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


# DynamoDB operations whose item writes go through the hooks of `query_partitions_from_an_index`
# (Table.put_item, Table.delete_item, DynamoDBBackend.update_item, transact_write_items) or that
# write no item. Any other DynamoDB operation (PartiQL, UpdateTable, restores, imports...) drops
# every partition index; the next Query rebuilds it.
INDEX_KEEPING_OPERATIONS = {
    "GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems",
    "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems",
    "CreateTable", "DeleteTable", "DescribeTable", "ListTables",
    "UpdateTimeToLive", "DescribeTimeToLive", "TagResource", "UntagResource", "ListTagsOfResource",
    "DescribeEndpoints", "DescribeContinuousBackups", "DescribeLimits",
}

# Bumped by any other DynamoDB operation: an index built under an older generation is stale.
INDEX_GENERATION = [0]


def query_partitions_from_an_index():
    """Answer Query from the queried partition's items instead of the whole table.

    moto's Table.query sorts every item of the table (`all_items`), then keeps those whose partition
    key matches: a GET /Users/{id} cost ~75 ms on a table of 8k items, growing with the table. This
    wrapper hands moto's own Table.query only the candidates of the partition queried, so its key
    conditions, filters, projections, Limit, ExclusiveStartKey / LastEvaluatedKey, ScanIndexForward
    and ConsistentRead checks run unchanged on the same (sorted) items:
    - base table (and a local index): `table.items[hash]`, which moto already keeps by partition;
    - a global index with one HASH attribute: `GsiPartitions`, built on the first query of that index
      and kept by the write hooks below (every write path of moto's ends in Table.put_item,
      Table.delete_item or an in-place update by DynamoDBBackend.update_item; transactions go
      through those, and their per-item rollback is re-indexed after it). Anything else falls back
      to moto's own full scan.
    Requests are still served one at a time (see the module docstring), so the swap of `all_items`
    for one call is never seen by another request.
    """
    from moto.dynamodb import models as dynamodb_models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    class GsiPartitions:
        """One global index's items by the value of its HASH attribute (a superset is enough:
        moto's query re-checks every key condition)."""

        def __init__(self, table, attr):
            self.attr = attr
            self.generation = INDEX_GENERATION[0]
            self.by_value = {}
            self.value_of = {}
            for hash_value, part in table.items.items():
                if table.range_key_attr:
                    for range_value, item in part.items():
                        self.add((hash_value, range_value), item)
                else:
                    self.add((hash_value, None), part)

        def add(self, key, item):
            value = item.attrs.get(self.attr) if item is not None else None
            if value is None:
                return
            try:
                self.by_value.setdefault(value, {})[key] = item
            except TypeError:
                return  # not a key type (a list or map): no key condition can equal it
            self.value_of[key] = value

        def reindex(self, table, key):
            old = self.value_of.pop(key, None)
            if old is not None:
                bucket = self.by_value.get(old, {})
                bucket.pop(key, None)
                if not bucket:
                    self.by_value.pop(old, None)
            self.add(key, stored_item(table, *key))

    def stored_item(table, hash_value, range_value):
        part = table.items.get(hash_value)
        if part is None:
            return None
        if table.range_key_attr:
            return part.get(range_value)
        return part

    def partitions_of(table):
        return table.__dict__.setdefault("_gsi_partitions", {})

    def reindex(table, hash_value, range_value):
        for gsi in partitions_of(table).values():
            gsi.reindex(table, (hash_value, range_value))

    def candidates(table, hash_key, index_name, hash_key_conditions):
        """The items the query can match, or None to let moto scan the table."""
        if not index_name:
            if hash_key is None:
                return None
            part = table.items.get(hash_key)
            if part is None:
                return []
            return list(part.values()) if table.range_key_attr else [part]
        index = next((i for i in table.all_indexes() if i.name == index_name), None)
        if index is None:
            return None  # moto answers the validation error
        hash_attrs = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
        conditions = dict(hash_key_conditions or [])
        if len(hash_attrs) != 1 or set(conditions) != set(hash_attrs):
            return None
        (attr,) = hash_attrs
        value = conditions[attr]
        if attr == table.hash_key_attr:
            return candidates(table, value, None, None)
        gsis = partitions_of(table)
        gsi = gsis.get(index_name)
        if gsi is None or gsi.attr != attr or gsi.generation != INDEX_GENERATION[0]:
            gsi = gsis[index_name] = GsiPartitions(table, attr)
        try:
            return list(gsi.by_value.get(value, {}).values())
        except TypeError:
            return []

    original_query = Table.query

    def query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
              scan_index_forward, projection_expressions, index_name=None, consistent_read=False,
              filter_expression=None, hash_key_conditions=None, range_key_conditions=None,
              **filter_kwargs):
        items = candidates(self, hash_key, index_name, hash_key_conditions)
        if items is not None:
            # Unsorted is fine: moto sorts the candidates by keys that are unique per item (the
            # table's range key, or the index keys then the table's keys).
            self.all_items = lambda: items
        try:
            return original_query(
                self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                scan_index_forward, projection_expressions, index_name, consistent_read,
                filter_expression, hash_key_conditions=hash_key_conditions,
                range_key_conditions=range_key_conditions, **filter_kwargs,
            )
        finally:
            self.__dict__.pop("all_items", None)

    Table.query = query

    original_put = Table.put_item

    def put_item(self, *args, **kwargs):
        item = original_put(self, *args, **kwargs)
        if item is not None:
            reindex(self, item.hash_key, item.range_key if self.range_key_attr else None)
        return item

    Table.put_item = put_item

    original_delete = Table.delete_item

    def delete_item(self, hash_key, range_key=None, *args, **kwargs):
        try:
            return original_delete(self, hash_key, range_key, *args, **kwargs)
        finally:
            reindex(self, hash_key, range_key if self.range_key_attr else None)

    Table.delete_item = delete_item

    def key_of(table, attrs):
        try:
            hash_value = DynamoType(attrs[table.hash_key_attr])
            range_value = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
            return hash_value, range_value
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    original_update = dynamodb_models.DynamoDBBackend.update_item

    def update_item(self, table_name, key, *args, **kwargs):
        try:
            return original_update(self, table_name, key, *args, **kwargs)
        finally:
            table = self.tables.get(table_name)
            touched = key_of(table, key) if table is not None and isinstance(key, dict) else None
            if touched is not None:
                reindex(table, *touched)

    dynamodb_models.DynamoDBBackend.update_item = update_item

    original_transact = dynamodb_models.DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        try:
            return original_transact(self, transact_items)
        finally:
            # The per-item rollback restores `table.items` directly: index what it left.
            for action in transact_items if isinstance(transact_items, list) else []:
                try:
                    ((op_type, op),) = action.items()
                    table = self.tables.get(op["TableName"])
                    attrs = op["Item"] if op_type == "Put" else op["Key"]
                except (KeyError, TypeError, ValueError, AttributeError):
                    continue
                touched = key_of(table, attrs) if table is not None else None
                if touched is not None:
                    reindex(table, *touched)

    dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items


def with_index_invalidation(app):
    """Drops every partition index after a DynamoDB operation whose writes the hooks do not see;
    counts DynamoDB requests by operation."""

    def serve(environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("DynamoDB_"):
            operation = target.partition(".")[2]
            DYNAMODB_CALLS[operation] = DYNAMODB_CALLS.get(operation, 0) + 1
        try:
            return app(environ, start_response)
        finally:
            if target.startswith("DynamoDB_") and target.partition(".")[2] not in INDEX_KEEPING_OPERATIONS:
                INDEX_GENERATION[0] += 1

    return serve


def skip_per_request_overhead() -> None:
    """Two costs moto's server pays on every request for nothing (~6% of its CPU in infra/bench.sh):
    finding a host's backend lists moto's package directory (listdir and an isdir per entry), and
    werkzeug writes an access-log line. The directory does not change while the server runs, and
    nobody reads those lines."""
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    MotoRequestHandler.log_request = lambda self, code="-", size="-": None
    # An answer's status and headers, then its body, were two writes: two wake-ups of the client
    # waiting on the socket, and on a busy machine the woken client takes the CPU from moto (the
    # one server everyone waits on) in the middle of each answer. Buffered, an answer up to 64 KiB
    # is one write (werkzeug flushes after the body).
    MotoRequestHandler.wbufsize = 1 << 16
    # Every call lists the handler class's methods with inspect.getmembers (~6% of moto's CPU);
    # classes do not change while the server runs.
    from moto.core import responses

    method_names = {}
    listed = responses.method_names_from_class

    def method_names_from_class(clazz):
        if clazz not in method_names:
            method_names[clazz] = listed(clazz)
        return method_names[clazz]

    responses.method_names_from_class = method_names_from_class


def parse_each_update_expression_once() -> None:
    """moto parses an UpdateExpression twice per UpdateItem (validation, then the update), and a
    service sends the same few expressions over and over (so too its ConditionExpressions). The tree of an expression is kept
    pickled (the update rewrites the tree it is given, so each caller gets its own copy;
    unpickling takes an eighth of the parse). An expression that fails to parse is not kept, so
    its error is raised every time, as before."""
    import pickle

    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    parse = UpdateExpressionParser.make.__func__
    trees = {}

    def make(cls, expression_str):
        kept = trees.get(expression_str)
        if kept is None:
            tree = parse(cls, expression_str)
            if len(trees) < 1000:
                trees[expression_str] = pickle.dumps(tree)
            return tree
        return pickle.loads(kept)

    UpdateExpressionParser.make = classmethod(make)

    # The same for a ConditionExpression's tokens (the tokens depend on its text only; names and
    # values are looked up after). Each parse gets fresh nodes: later steps may build on them.
    from moto.dynamodb.comparisons import ConditionExpressionParser

    lex = ConditionExpressionParser._lex_condition_expression
    tokens = {}

    def lex_once(self):
        kept = tokens.get(self.condition_expression)
        if kept is None:
            nodes = lex(self)
            if len(tokens) < 1000:
                tokens[self.condition_expression] = tuple(nodes)
            return nodes
        return deque(node._replace(children=[]) for node in kept)

    ConditionExpressionParser._lex_condition_expression = lex_once


class Connection:
    """One client connection of `serve_one_at_a_time`: the bytes received and not yet answered."""

    def __init__(self, sock, address):
        self.sock, self.address = sock, address
        self.received = bytearray()
        self.continued = False  # "100 Continue" sent for the request being received


def dechunked(body: bytes):
    """A chunked request body decoded, and how many bytes it took; None while incomplete."""
    out, at = bytearray(), 0
    while True:
        line_end = body.find(b"\r\n", at)
        if line_end < 0:
            return None
        size = int(body[at:line_end].split(b";")[0].strip() or b"0", 16)
        at = line_end + 2
        if size == 0:
            trailer_end = body.find(b"\r\n\r\n", at - 2)
            return (bytes(out), trailer_end + 4) if trailer_end >= 0 else None
        if len(body) < at + size + 2:
            return None
        out += body[at:at + size]
        at += size + 2


def next_request(connection: Connection):
    """The next whole request received on `connection` (method, target, version, headers, body),
    taken off its buffer; None while it is incomplete."""
    buffer = connection.received
    head_end = buffer.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    lines = bytes(buffer[:head_end]).decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    fields = {name.lower(): value for name, value in headers}
    start = head_end + 4
    if "chunked" in fields.get("transfer-encoding", "").lower():
        decoded = dechunked(bytes(buffer[start:]))
        if decoded is None:
            return None
        body, used = decoded
        end = start + used
    else:
        end = start + int(fields.get("content-length", "0") or "0")
        if len(buffer) < end:
            if fields.get("expect", "").lower() == "100-continue" and not connection.continued:
                connection.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                connection.continued = True
            return None
        body = bytes(buffer[start:end])
    del buffer[:end]
    connection.continued = False
    return method, target, version, headers, body


def answer(app, connection: Connection, host: str, port: int, request) -> bool:
    """Runs the WSGI app on one request and writes its answer in one send; whether the connection
    stays open."""
    import email.utils
    import io
    import traceback
    from urllib.parse import unquote

    method, target, version, headers, body = request
    path, _, query = target.partition("?")
    environ = {
        "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": unquote(path, "latin-1"),
        "QUERY_STRING": query, "SERVER_NAME": host, "SERVER_PORT": str(port), "SERVER_PROTOCOL": version,
        "REMOTE_ADDR": connection.address[0], "REMOTE_PORT": str(connection.address[1]),
        "CONTENT_LENGTH": str(len(body)), "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True, "wsgi.errors": sys.stderr,
        "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
        "moto.preserved_header_names": {},
    }
    close = version == "HTTP/1.0"
    for name, value in headers:
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif key not in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
            key = "HTTP_" + key
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        if key == "HTTP_CONNECTION":
            close = value.lower() == "close" or (close and value.lower() != "keep-alive")
    started = {}

    def start_response(status, response_headers, exc_info=None):
        started["status"], started["headers"] = status, response_headers
        return lambda data: chunks.append(data)

    chunks = []
    try:
        result = app(environ, start_response)
        try:
            chunks.extend(result)
        finally:
            if hasattr(result, "close"):
                result.close()
    except Exception:  # the app's fault: a 500, as werkzeug's server answers, and the trace
        traceback.print_exc()
        started = {"status": "500 INTERNAL SERVER ERROR", "headers": [("Content-Type", "text/plain")]}
        chunks = [b"Internal Server Error"]
    payload = b"" if method == "HEAD" else b"".join(chunks)
    lines = [f"HTTP/1.1 {started['status']}", "Server: moto (infra/moto_server.py)",
             f"Date: {email.utils.formatdate(usegmt=True)}"]
    for name, value in started["headers"]:
        if name.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
            lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {len(payload)}")
    if close:
        lines.append("Connection: close")
    connection.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)
    return not close


def serve_one_at_a_time(host: str, port: int, app) -> None:
    """An HTTP/1.1 server that keeps connections open and answers one request at a time, in this
    thread: the atomicity of serial requests without a connection per request. moto's own server
    (werkzeug's) answers HTTP/1.0 and closes each connection, so every SDK call opened one: a third
    of the service's CPU per request went to the kernel's TCP set-up, and werkzeug's per-connection
    handler most of moto's overhead outside moto itself. Content-Length and chunked bodies, Expect:
    100-continue; each answer in one send."""
    import selectors
    import socket

    listener = socket.create_server((host, port), backlog=512)
    scratch = bytearray(1 << 16)
    scratch_view = memoryview(scratch)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, None)
    print(f"moto listening on http://{host}:{port}", file=sys.stderr, flush=True)

    def drop(connection):
        selector.unregister(connection.sock)
        connection.sock.close()

    while True:
        for key, _ in selector.select():
            if key.data is None:
                sock, address = listener.accept()
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                selector.register(sock, selectors.EVENT_READ, Connection(sock, address))
                continue
            connection = key.data
            try:
                # Into one reused buffer: a fresh 64 KiB object per read was an mmap and munmap each.
                size = connection.sock.recv_into(scratch)
            except OSError:
                size = 0
            if not size:
                drop(connection)
                continue
            connection.received += scratch_view[:size]
            try:
                while (request := next_request(connection)) is not None:
                    if not answer(app, connection, host, port, request):
                        drop(connection)
                        break
            except (OSError, ValueError):  # a client gone mid-answer, or bytes that are no HTTP
                drop(connection)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--exit-with-parent", action="store_true")
    # For before/after timings: moto's own Query (a scan of the whole table).
    parser.add_argument("--without-query-index", action="store_true")
    # For before/after timings: moto's own server (werkzeug, HTTP/1.0, a connection per request).
    parser.add_argument("--werkzeug-server", action="store_true")
    args = parser.parse_args()
    if args.exit_with_parent:
        threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    skip_per_request_overhead()
    parse_each_update_expression_once()
    roll_back_transactions_per_item()
    serialize_item_reads_directly()
    if not args.without_query_index:
        query_partitions_from_an_index()
    app = with_index_invalidation(with_test_endpoints(DomainDispatcherApplication(create_backend_app)))
    if args.werkzeug_server:
        print(f"moto listening on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
        run_simple(args.host, args.port, app, threaded=False, use_reloader=False, request_handler=MotoRequestHandler)
    else:
        serve_one_at_a_time(args.host, args.port, app)


if __name__ == "__main__":
    main()
