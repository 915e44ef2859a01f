#!/usr/bin/env python3
"""End-to-end smoke test of a deployed or local stack, as an admin and an IdP would use it.

Signs in as an organization owner, enables SCIM (or refreshes the token when it is on), provisions a
user and a team through SCIM, reads them back, reads the SCIM request log, then deprovisions both.
Standard library only. Exit status 0 when every step did what it should.

    python3 infra/smoke.py --base-url https://abc.execute-api.us-east-1.amazonaws.com \
        --org acme --email owner@acme.example.com   # passphrase from SMOKE_PASSPHRASE
"""
import argparse
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
import uuid


class Step(Exception):
    pass


def call(method, url, token=None, body=None, expect=(200,)):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/scim+json, application/json")
    request.add_header("User-Agent", "insomnia-scim-smoke/1.0")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    if status not in expect:
        shown = re.sub(r"(iscim|isess)_[A-Za-z0-9_-]+", r"\1_<redacted>", text[:500])
        raise Step(f"{method} {url} answered {status}, expected {expect}: {shown}")
    return json.loads(text) if text.strip() else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True, help="origin of the API, e.g. https://abc.execute-api…")
    parser.add_argument("--org", required=True)
    parser.add_argument("--email", required=True, help="an Owner or Co-Owner of the organization")
    parser.add_argument("--idp", default="okta", choices=["okta", "azure"], help="used when SCIM must be enabled")
    args = parser.parse_args()
    passphrase = os.environ.get("SMOKE_PASSPHRASE")
    if not passphrase:
        print("smoke: set SMOKE_PASSPHRASE to the owner's passphrase", file=sys.stderr)
        return 2
    base = args.base_url.rstrip("/")
    admin = f"{base}/admin/orgs/{args.org}/scim"
    try:
        session = call(
            "POST", f"{base}/auth/sessions", body={"email": args.email, "passphrase": passphrase}, expect=(200, 201)
        )["token"]
        print("signed in")
        status = call("GET", admin, session)
        if status["enabled"]:
            issued = call("POST", f"{admin}/token/refresh", session, {"passphrase": passphrase}, expect=(200, 201))
            print("SCIM was on: token refreshed")
        else:
            body = {"idp": args.idp, "window": "30d", "passphrase": passphrase}
            issued = call("POST", f"{admin}/enable", session, body, expect=(200, 201))
            print("SCIM enabled")
        scim, token = issued["connectorUrl"], issued["token"]

        call("GET", f"{scim}/ServiceProviderConfig", token)
        marker = uuid.uuid4().hex[:10]
        user = call("POST", f"{scim}/Users", token, {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": f"smoke-{marker}@smoke.example.com",
            "name": {"givenName": "Smoke", "familyName": marker},
            "emails": [{"value": f"smoke-{marker}@smoke.example.com", "type": "work", "primary": True}],
            "active": True,
        }, expect=(201,))
        print(f"user provisioned: {user['id']}")
        team = call("POST", f"{scim}/Groups", token, {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": f"Smoke team {marker}",
            "members": [{"value": user["id"]}],
        }, expect=(201,))
        print(f"team provisioned: {team['id']}")

        read_user = call("GET", f"{scim}/Users/{user['id']}", token)
        if [g["value"] for g in read_user.get("groups", [])] != [team["id"]]:
            raise Step(f"the user's groups are {read_user.get('groups')}, expected the smoke team")
        read_team = call("GET", f"{scim}/Groups/{team['id']}", token)
        if [m["value"] for m in read_team.get("members", [])] != [user["id"]]:
            raise Step(f"the team's members are {read_team.get('members')}, expected the smoke user")
        found = call("GET", f"{scim}/Users?filter=userName%20eq%20%22smoke-{marker}%40smoke.example.com%22", token)
        if found["totalResults"] != 1:
            raise Step(f"the userName filter found {found['totalResults']} users, expected 1")
        print("user and team read back")

        for _ in range(10):
            logs = call("GET", f"{admin}/logs?limit=20", session)
            records = logs.get("records") or logs.get("logs") or []
            if any(r.get("method") == "POST" and str(r.get("path", "")).endswith("/Groups") for r in records):
                break
            time.sleep(1)
        else:
            raise Step("the SCIM log does not show the team's POST")
        print(f"SCIM log read: {len(records)} newest records")

        call("PATCH", f"{scim}/Users/{user['id']}", token, {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": False}}],
        })
        call("DELETE", f"{scim}/Groups/{team['id']}", token, expect=(204,))
        call("DELETE", f"{scim}/Users/{user['id']}", token, expect=(204,))
        call("GET", f"{scim}/Users/{user['id']}", token, expect=(404,))
        print("deprovisioned (deactivated, team and user deleted)")
        call("DELETE", f"{base}/auth/sessions/current", session, expect=(200, 204))
    except Step as failure:
        print(f"smoke: FAILED: {failure}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, KeyError, ValueError) as error:
        print(f"smoke: FAILED: {error!r}", file=sys.stderr)
        return 1
    print("smoke: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
