"""infra/moto_server.py answers DynamoDB exactly as plain moto does.

Starts the patched launcher and moto's own server (`moto_server`, no patch) on loopback, writes the
same items to both (several partitions, two global indexes, items of very different sizes), and
compares the parsed answers of many queries (key conditions, filters, projections, Limit with the
pagination walked to the end, reverse order, global indexes, errors), again after every kind of write
that can move an item between index partitions (put, update, delete, batch write, transactions,
a cancelled transaction, PartiQL). The launcher's HTTP server is tested on its own too: kept-alive,
pipelined and chunked requests, Expect: 100-continue, HTTP/1.0, garbage. Run:
.venv/bin/python infra/test_moto_server.py (infra/test.sh).
"""
import os
import socket
import subprocess
import sys
import time
import unittest
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE = "t"
PARTITIONS = ["ORG#a", "ORG#b", "ORG#c#GROUP#g1", "ORG#empty-soon"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list) -> tuple:
    port = free_port()
    proc = subprocess.Popen(args + ["--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"{args} exited")
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError(f"{args} did not start")
    client = boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )
    return proc, client


def s(value: str) -> dict:
    return {"S": value}


def n(value: int) -> dict:
    return {"N": str(value)}


def items() -> list:
    """Items of several partitions, some in GSI1 (a user's teams shape), some in GSI2, sizes 50 B .. 300 KB."""
    out = []
    for p_index, pk in enumerate(PARTITIONS):
        for i in range(30):
            item = {
                "PK": s(pk),
                "SK": s(f"{['USER', 'GROUP', 'MEMBER', 'LOOKUP'][i % 4]}#{i:03d}"),
                "rank": n((i * 7 + p_index) % 13),
                "name": s(f"name-{i % 5}"),
            }
            if i % 3 != 0:
                item["GSI1PK"] = s(f"ORG#x#USER#{i % 4}")
                item["GSI1SK"] = s(f"GROUP#{p_index}#{i:03d}")
            if i % 5 == 0:
                item["GSI2PK"] = s("EXPIRY")
                item["GSI2SK"] = n(1000 - i - p_index)
                item["tags"] = {"L": [s("a"), s("b")]}
            if pk == "ORG#b" and i % 6 == 1:
                item["blob"] = s("x" * 300_000)  # 1 MB answer limit: size-based pages
            elif i % 4 == 2:
                item["blob"] = s("y" * (i * 100))
            out.append(item)
    return out


def queries() -> list:
    """Query requests (without TableName)."""
    out = []
    for pk in PARTITIONS + ["ORG#none"]:
        key = {":pk": s(pk)}
        out += [
            {"KeyConditionExpression": "PK = :pk", "ExpressionAttributeValues": key},
            {"KeyConditionExpression": "PK = :pk", "ExpressionAttributeValues": key, "ConsistentRead": True},
            {"KeyConditionExpression": "PK = :pk", "ExpressionAttributeValues": key, "ScanIndexForward": False},
            {"KeyConditionExpression": "PK = :pk", "ExpressionAttributeValues": key, "Select": "COUNT"},
            {"KeyConditionExpression": "PK = :pk AND begins_with(SK, :p)",
             "ExpressionAttributeValues": {**key, ":p": s("USER#")}},
            {"KeyConditionExpression": "PK = :pk AND SK BETWEEN :a AND :b",
             "ExpressionAttributeValues": {**key, ":a": s("GROUP#005"), ":b": s("MEMBER#020")}},
            {"KeyConditionExpression": "PK = :pk AND SK < :a", "ExpressionAttributeValues": {**key, ":a": s("LOOKUP#")}},
            {"KeyConditionExpression": "PK = :pk AND SK <= :a", "ExpressionAttributeValues": {**key, ":a": s("MEMBER#010")}},
            {"KeyConditionExpression": "PK = :pk AND SK > :a", "ExpressionAttributeValues": {**key, ":a": s("MEMBER#010")},
             "ScanIndexForward": False},
            {"KeyConditionExpression": "PK = :pk AND SK >= :a", "ExpressionAttributeValues": {**key, ":a": s("LOOKUP#003")}},
            {"KeyConditionExpression": "PK = :pk AND SK = :a", "ExpressionAttributeValues": {**key, ":a": s("USER#004")}},
            {"KeyConditionExpression": "PK = :pk", "FilterExpression": "#r > :r AND attribute_exists(GSI1PK)",
             "ExpressionAttributeNames": {"#r": "rank"}, "ExpressionAttributeValues": {**key, ":r": n(5)}},
            {"KeyConditionExpression": "PK = :pk AND begins_with(SK, :p)", "FilterExpression": "contains(#n, :c)",
             "ExpressionAttributeNames": {"#n": "name"}, "ExpressionAttributeValues": {**key, ":p": s("G"), ":c": s("-3")}},
            {"KeyConditionExpression": "PK = :pk", "ProjectionExpression": "SK, #r, tags[1]",
             "ExpressionAttributeNames": {"#r": "rank"}, "ExpressionAttributeValues": key},
        ]
        for limit in (1, 7):
            out.append({"KeyConditionExpression": "PK = :pk", "ExpressionAttributeValues": key, "Limit": limit,
                        "_walk": True})
            out.append({"KeyConditionExpression": "PK = :pk AND SK > :a", "ExpressionAttributeValues": {**key, ":a": s("G"), ":r": n(9)},
                        "Limit": limit, "ScanIndexForward": False, "FilterExpression": "#r < :r",
                        "ExpressionAttributeNames": {"#r": "rank"},
                        "_walk": True})
        out.append({"KeyConditions": {"PK": {"AttributeValueList": [s(pk)], "ComparisonOperator": "EQ"},
                                      "SK": {"AttributeValueList": [s("M")], "ComparisonOperator": "BEGINS_WITH"}}})
    for user in range(5):
        key = {":pk": s(f"ORG#x#USER#{user}")}
        gsi = {"IndexName": "GSI1"}
        out += [
            {**gsi, "KeyConditionExpression": "GSI1PK = :pk", "ExpressionAttributeValues": key},
            {**gsi, "KeyConditionExpression": "GSI1PK = :pk", "ExpressionAttributeValues": key, "ScanIndexForward": False},
            {**gsi, "KeyConditionExpression": "GSI1PK = :pk AND begins_with(GSI1SK, :p)",
             "ExpressionAttributeValues": {**key, ":p": s("GROUP#1")}},
            {**gsi, "KeyConditionExpression": "GSI1PK = :pk AND GSI1SK BETWEEN :a AND :b",
             "ExpressionAttributeValues": {**key, ":a": s("GROUP#0#010"), ":b": s("GROUP#2#020")}},
            {**gsi, "KeyConditionExpression": "GSI1PK = :pk AND GSI1SK < :a", "ExpressionAttributeValues": {**key, ":a": s("GROUP#2")}},
            {**gsi, "KeyConditionExpression": "GSI1PK = :pk AND GSI1SK > :a", "ExpressionAttributeValues": {**key, ":a": s("GROUP#2")}},
            {**gsi, "KeyConditionExpression": "GSI1PK = :pk", "FilterExpression": "#r >= :r",
             "ExpressionAttributeNames": {"#r": "rank"}, "ExpressionAttributeValues": {**key, ":r": n(6)}},
            {**gsi, "KeyConditionExpression": "GSI1PK = :pk", "ProjectionExpression": "PK, SK, GSI1SK",
             "ExpressionAttributeValues": key},
            {**gsi, "KeyConditionExpression": "GSI1PK = :pk", "ExpressionAttributeValues": key, "ConsistentRead": True},
            {**gsi, "KeyConditionExpression": "GSI1PK = :pk", "ExpressionAttributeValues": key, "Select": "COUNT"},
        ]
        for limit in (2, 8):
            out.append({**gsi, "KeyConditionExpression": "GSI1PK = :pk", "ExpressionAttributeValues": key,
                        "Limit": limit, "_walk": True})
            out.append({**gsi, "KeyConditionExpression": "GSI1PK = :pk AND begins_with(GSI1SK, :p)",
                        "ExpressionAttributeValues": {**key, ":p": s("GROUP#")}, "Limit": limit,
                        "ScanIndexForward": False, "_walk": True})
    out += [
        {"IndexName": "GSI2", "KeyConditionExpression": "GSI2PK = :pk", "ExpressionAttributeValues": {":pk": s("EXPIRY")}},
        {"IndexName": "GSI2", "KeyConditionExpression": "GSI2PK = :pk AND GSI2SK <= :t",
         "ExpressionAttributeValues": {":pk": s("EXPIRY"), ":t": n(990)}, "Limit": 2, "_walk": True},
        {"IndexName": "GSI2", "KeyConditionExpression": "GSI2PK = :pk", "ExpressionAttributeValues": {":pk": s("NONE")}},
        {"IndexName": "NOPE", "KeyConditionExpression": "GSI2PK = :pk", "ExpressionAttributeValues": {":pk": s("EXPIRY")}},
        {"IndexName": "GSI1", "KeyConditions": {"GSI1PK": {"AttributeValueList": [s("ORG#x#USER#1")],
                                                           "ComparisonOperator": "EQ"}}},
    ]
    return out


def answer(client, request: dict) -> list:
    """The answer (or error) of a query; with `_walk`, every page until LastEvaluatedKey is gone."""
    request = dict(request)
    walk = request.pop("_walk", False)
    pages = []
    for _ in range(200):
        try:
            page = client.query(TableName=TABLE, **request)
        except ClientError as error:
            pages.append(("error", error.response["Error"].get("Code"), error.response["Error"].get("Message")))
            return pages
        page.pop("ResponseMetadata", None)
        pages.append(page)
        if not walk or "LastEvaluatedKey" not in page:
            return pages
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    raise AssertionError(f"pagination did not end: {request}")


def create_table(client) -> None:
    client.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": a, "AttributeType": t}
            for a, t in [("PK", "S"), ("SK", "S"), ("GSI1PK", "S"), ("GSI1SK", "S"), ("GSI2PK", "S"), ("GSI2SK", "N")]
        ],
        GlobalSecondaryIndexes=[
            {"IndexName": "GSI1", "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": "GSI1PK", "KeyType": "HASH"}, {"AttributeName": "GSI1SK", "KeyType": "RANGE"}]},
            {"IndexName": "GSI2", "Projection": {"ProjectionType": "KEYS_ONLY"},
             "KeySchema": [{"AttributeName": "GSI2PK", "KeyType": "HASH"}, {"AttributeName": "GSI2SK", "KeyType": "RANGE"}]},
        ],
    )


def key(pk: str, sk: str) -> dict:
    return {"PK": s(pk), "SK": s(sk)}


# Writes applied to both servers in turn, each followed by every query; each can move items
# between partitions of GSI1 (its answers must follow).
def put_moves_an_item(c):
    c.put_item(TableName=TABLE, Item={**key("ORG#a", "USER#001"), "GSI1PK": s("ORG#x#USER#4"),
                                      "GSI1SK": s("GROUP#9#001"), "rank": n(3)})
    c.put_item(TableName=TABLE, Item={**key("ORG#a", "USER#new"), "GSI1PK": s("ORG#x#USER#0"), "GSI1SK": s("GROUP#0#new")})


def update_moves_and_removes(c):
    c.update_item(TableName=TABLE, Key=key("ORG#a", "GROUP#002"), UpdateExpression="SET GSI1PK = :p, #r = :r",
                  ExpressionAttributeNames={"#r": "rank"}, ExpressionAttributeValues={":p": s("ORG#x#USER#3"), ":r": n(12)})
    c.update_item(TableName=TABLE, Key=key("ORG#b", "GROUP#005"), UpdateExpression="REMOVE GSI1PK")
    c.update_item(TableName=TABLE, Key=key("ORG#c#GROUP#g1", "MEMBER#099"),
                  UpdateExpression="SET GSI1PK = :p, GSI1SK = :s", ExpressionAttributeValues={":p": s("ORG#x#USER#2"), ":s": s("GROUP#0#099")})
    try:
        c.update_item(TableName=TABLE, Key=key("ORG#a", "USER#004"), UpdateExpression="SET GSI1PK = :p",
                      ConditionExpression="attribute_not_exists(PK)", ExpressionAttributeValues={":p": s("ORG#x#USER#0")})
    except ClientError:
        pass


def deletes(c):
    c.delete_item(TableName=TABLE, Key=key("ORG#a", "USER#004"))
    c.delete_item(TableName=TABLE, Key=key("ORG#a", "GROUP#005"))
    c.delete_item(TableName=TABLE, Key=key("ORG#a", "USER#missing"))


def batch_writes(c):
    c.batch_write_item(RequestItems={TABLE: [
        {"PutRequest": {"Item": {**key("ORG#b", "MEMBER#b1"), "GSI1PK": s("ORG#x#USER#1"), "GSI1SK": s("GROUP#7#b1")}}},
        {"PutRequest": {"Item": {**key("ORG#b", "USER#001"), "rank": n(1)}}},
        {"DeleteRequest": {"Key": key("ORG#b", "MEMBER#002")}},
    ] + [{"DeleteRequest": {"Key": key("ORG#empty-soon", f"{['USER', 'GROUP', 'MEMBER', 'LOOKUP'][i % 4]}#{i:03d}")}}
         for i in range(0, 20)]})


def transactions(c):
    c.transact_write_items(TransactItems=[
        {"Put": {"TableName": TABLE, "Item": {**key("ORG#c#GROUP#g1", "MEMBER#t1"), "GSI1PK": s("ORG#x#USER#1"),
                                               "GSI1SK": s("GROUP#8#t1")}, "ConditionExpression": "attribute_not_exists(PK)"}},
        {"Update": {"TableName": TABLE, "Key": key("ORG#b", "GROUP#009"), "UpdateExpression": "SET GSI1PK = :p",
                    "ExpressionAttributeValues": {":p": s("ORG#x#USER#0")}}},
        {"Delete": {"TableName": TABLE, "Key": key("ORG#b", "MEMBER#010")}},
    ])


def cancelled_transaction(c):
    try:
        c.transact_write_items(TransactItems=[
            {"Update": {"TableName": TABLE, "Key": key("ORG#b", "GROUP#013"), "UpdateExpression": "SET GSI1PK = :p",
                        "ExpressionAttributeValues": {":p": s("ORG#x#USER#4")}}},
            {"Delete": {"TableName": TABLE, "Key": key("ORG#b", "LOOKUP#003")}},
            {"Put": {"TableName": TABLE, "Item": {**key("ORG#b", "MEMBER#zz"), "GSI1PK": s("ORG#x#USER#4"), "GSI1SK": s("G")}}},
            {"ConditionCheck": {"TableName": TABLE, "Key": key("ORG#a", "USER#000"),
                                "ConditionExpression": "attribute_not_exists(PK)"}},
        ])
    except ClientError as error:
        assert error.response["Error"]["Code"] == "TransactionCanceledException", error.response


def partiql_update(c):
    c.execute_statement(Statement=f"UPDATE \"{TABLE}\" SET GSI1PK='ORG#x#USER#2' WHERE PK='ORG#a' AND SK='USER#007'")


class MotoServerMatchesMoto(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.patched_proc, cls.patched = start([sys.executable, os.path.join(HERE, "moto_server.py")])
        plain = os.path.join(os.path.dirname(sys.executable), "moto_server")
        cls.plain_proc, cls.plain = start([plain, "-H", "127.0.0.1"])
        for client in (cls.patched, cls.plain):
            create_table(client)
            for item in items():
                client.put_item(TableName=TABLE, Item=item)

    @classmethod
    def tearDownClass(cls):
        for proc in (cls.patched_proc, cls.plain_proc):
            proc.kill()
            proc.wait(timeout=10)

    def assert_same_answers(self, stage: str) -> None:
        compared = 0
        for request in queries():
            with self.subTest(stage=stage, request={k: v for k, v in request.items() if k != "ExpressionAttributeValues"}):
                self.assertEqual(answer(self.patched, request), answer(self.plain, request))
                compared += 1
        self.assertGreater(compared, 100)

    def test_0_the_data_answers_alike(self):
        self.assert_same_answers("loaded")
        # The comparison sees something: pages, size-limited pages, GSI answers, errors.
        walked = answer(self.patched, {"KeyConditionExpression": "PK = :pk", "ExpressionAttributeValues": {":pk": s("ORG#b")},
                                       "Limit": 4, "_walk": True})
        self.assertEqual(sum(p["Count"] for p in walked), 30)
        self.assertGreater(len(walked), 7)
        big = answer(self.patched, {"KeyConditionExpression": "PK = :pk", "ExpressionAttributeValues": {":pk": s("ORG#b")}})
        self.assertIn("LastEvaluatedKey", big[0])  # 5 items of 300 KB exceed the 1 MB page
        gsi = answer(self.patched, {"IndexName": "GSI1", "KeyConditionExpression": "GSI1PK = :pk",
                                    "ExpressionAttributeValues": {":pk": s("ORG#x#USER#1")}})
        self.assertGreater(gsi[0]["Count"], 10)
        consistent_gsi = answer(self.patched, {"IndexName": "GSI1", "KeyConditionExpression": "GSI1PK = :pk",
                                               "ExpressionAttributeValues": {":pk": s("ORG#x#USER#1")}, "ConsistentRead": True})
        self.assertEqual(consistent_gsi[0][0], "error")

    def test_1_writes_keep_the_index(self):
        for write in (put_moves_an_item, update_moves_and_removes, deletes, batch_writes, transactions,
                      cancelled_transaction, partiql_update):
            write(self.patched)
            write(self.plain)
            self.assert_same_answers(write.__name__)
        moved = answer(self.patched, {"IndexName": "GSI1", "KeyConditionExpression": "GSI1PK = :pk AND GSI1SK = :s",
                                      "ExpressionAttributeValues": {":pk": s("ORG#x#USER#4"), ":s": s("GROUP#9#001")}})
        self.assertEqual(moved[0]["Count"], 1)


class KeptAliveConnections(unittest.TestCase):
    """The launcher's server (`serve_one_at_a_time`) at the HTTP level: what an SDK and boto3 send."""

    @classmethod
    def setUpClass(cls):
        cls.proc, client = start([sys.executable, os.path.join(HERE, "moto_server.py")])
        cls.port = int(client.meta.endpoint_url.rsplit(":", 1)[1])

    @classmethod
    def tearDownClass(cls):
        cls.proc.kill()
        cls.proc.wait(timeout=10)

    def exchange(self, sock, data: bytes, answers: int) -> list:
        """Sends `data`, reads `answers` whole answers (status line, headers, Content-Length body)."""
        sock.sendall(data)
        received, out = b"", []
        while len(out) < answers:
            head_end = received.find(b"\r\n\r\n")
            if head_end >= 0:
                head = received[:head_end].decode("latin-1")
                length = int(next(line.split(":", 1)[1] for line in head.split("\r\n") if line.lower().startswith("content-length")))
                if len(received) >= head_end + 4 + length:
                    out.append((head, received[head_end + 4:head_end + 4 + length]))
                    received = received[head_end + 4 + length:]
                    continue
            chunk = sock.recv(65536)
            self.assertTrue(chunk, f"the server closed the connection after {len(out)} answers")
            received += chunk
        return out

    def request(self, body: bytes, extra: str = "", version: str = "HTTP/1.1", chunked: bool = False) -> bytes:
        head = (f"POST / {version}\r\nHost: 127.0.0.1:{self.port}\r\nContent-Type: application/x-amz-json-1.0\r\n"
                "X-Amz-Target: DynamoDB_20120810.ListTables\r\n"
                "Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, "
                "SignedHeaders=host, Signature=x\r\n" + extra)
        if chunked:
            return (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + b"".join(
                f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (body[:1], body[1:])) + b"0\r\n\r\n"
        return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    def test_requests_share_a_connection_even_when_pipelined_or_chunked(self):
        with socket.create_connection(("127.0.0.1", self.port)) as sock:
            first = self.exchange(sock, self.request(b"{}"), 1)
            # Two requests in one send, the second with a chunked body: two answers, in order.
            both = self.exchange(sock, self.request(b"{}") + self.request(b'{"Limit": 1}', chunked=True), 2)
        for head, body in first + both:
            self.assertTrue(head.startswith("HTTP/1.1 200"), head)
            self.assertIn("TableNames", body.decode())
            self.assertNotIn("Connection: close", head)

    def test_expect_100_continue_is_answered_before_the_body(self):
        with socket.create_connection(("127.0.0.1", self.port)) as sock:
            whole = self.request(b"{}", extra="Expect: 100-continue\r\n")
            head_end = whole.find(b"\r\n\r\n") + 4
            sock.sendall(whole[:head_end])
            self.assertTrue(sock.recv(64).startswith(b"HTTP/1.1 100 Continue"))
            (head, body), = self.exchange(sock, whole[head_end:], 1)
        self.assertTrue(head.startswith("HTTP/1.1 200"), head)

    def test_http_1_0_and_connection_close_end_the_connection_after_the_answer(self):
        for version, extra in (("HTTP/1.0", ""), ("HTTP/1.1", "Connection: close\r\n")):
            with socket.create_connection(("127.0.0.1", self.port)) as sock:
                (head, _), = self.exchange(sock, self.request(b"{}", extra=extra, version=version), 1)
                self.assertIn("Connection: close", head)
                sock.settimeout(5)
                self.assertEqual(sock.recv(1), b"", "closed after the answer")

    def test_bytes_that_are_no_http_close_that_connection_only(self):
        with socket.create_connection(("127.0.0.1", self.port)) as bad, \
                socket.create_connection(("127.0.0.1", self.port)) as good:
            bad.sendall(b"garbage\r\n\r\n")
            bad.settimeout(5)
            self.assertEqual(bad.recv(1), b"")
            (head, _), = self.exchange(good, self.request(b"{}"), 1)
            self.assertTrue(head.startswith("HTTP/1.1 200"), head)


if __name__ == "__main__":
    unittest.main(verbosity=2)
