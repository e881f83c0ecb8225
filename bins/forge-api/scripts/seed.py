#!/usr/bin/env python3
"""Seeds a running forge-api with one repository and N releases of acme/shop/web (branch main).

Usage: seed.py BASE_URL TOKEN N
"""
import http.client
import json
import sys
import urllib.parse

base, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
u = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(u.hostname, u.port)
headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def post(path, body):
    conn.request("POST", path, json.dumps(body), headers)
    r = conn.getresponse()
    data = r.read()
    if r.status not in (200, 201):
        raise SystemExit(f"POST {path} -> {r.status}: {data[:300]!r}")


post("/v1/repositories", {"repository": "acme/shop"})
for i in range(1, n + 1):
    sha = f"{i:040x}"
    post("/v1/releases", {
        "repository": "acme/shop", "project": "web", "commit_sha": sha,
        "trigger": {"type": "branch_push", "branch": "main", "actor": "bench"},
        "oci_ref": f"registry.example:5000/acme/shop/web:{sha}",
        "oci_digest": "sha256:" + "ab" * 32,
    })
print(f"seeded {n} releases")
