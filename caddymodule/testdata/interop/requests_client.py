"""Send RSA-SHA1 (or HMAC-SHA1) OAuth 1.0a requests with Debian's
requests-oauthlib, as a linked app written in Python would, and report what
came back. Input (stdin): JSON list of requests; output: JSON list of results.

Each request: {"method", "url", "consumer", "key_file" | "secret",
"signature_type": "auth_header" | "query" | "body", "data": {...} (form),
"tamper": null | {"url": "..."} | {"body": "..."} | "replay"}.
"""
import json
import sys

import requests
from oauthlib.oauth1 import SIGNATURE_HMAC, SIGNATURE_RSA
from requests_oauthlib import OAuth1


def main():
    specs = json.load(sys.stdin)
    session = requests.Session()
    out = []
    for s in specs:
        if "key_file" in s:
            with open(s["key_file"]) as f:
                auth = OAuth1(s["consumer"], rsa_key=f.read(), signature_method=SIGNATURE_RSA,
                              signature_type=s.get("signature_type", "auth_header"))
        else:
            auth = OAuth1(s["consumer"], client_secret=s["secret"], signature_method=SIGNATURE_HMAC,
                          signature_type=s.get("signature_type", "auth_header"))
        req = requests.Request(s.get("method", "GET"), s["url"], data=s.get("data"), auth=auth).prepare()
        tamper = s.get("tamper")
        if isinstance(tamper, dict) and "url" in tamper:
            req.url = tamper["url"] if "oauth_" in tamper["url"] else _keep_oauth_query(req.url, tamper["url"])
        if isinstance(tamper, dict) and "body" in tamper:
            req.body = tamper["body"]
            req.headers["Content-Length"] = str(len(req.body))
        resp = session.send(req)
        if tamper == "replay":
            resp = session.send(req)
        out.append({"status": resp.status_code, "www_authenticate": resp.headers.get("WWW-Authenticate", ""),
                    "body": resp.text})
    json.dump(out, sys.stdout)


def _keep_oauth_query(signed_url, new_url):
    # Swap everything but the oauth_* parameters, so only the tampered part
    # differs from what was signed.
    from urllib.parse import urlsplit
    old = urlsplit(signed_url)
    oauth = [p for p in old.query.split("&") if p.startswith("oauth_")]
    base, _, query = new_url.partition("?")
    parts = [p for p in query.split("&") if p] + oauth
    return base + ("?" + "&".join(parts) if parts else "")


if __name__ == "__main__":
    main()
