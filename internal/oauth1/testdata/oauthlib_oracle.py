#!/usr/bin/python3
"""Differential oracle for the Go OAuth 1.0a verifier, built on python-oauthlib.

Run with Debian's interpreter (/usr/bin/python3 with python3-oauthlib,
python3-jwt and python3-cryptography). It reads one JSON document on stdin:

    {"cases": [CASE, ...]}

and writes {"results": [RESULT, ...]} on stdout, one result per case, in order.
A case that fails gives {"error": "..."} instead of aborting the batch.

CASE "sign": oauthlib.oauth1.Client signs a request.
    {"op": "sign", "method": "GET", "uri": "https://h/p?q=1",
     "body": null | "a=1&b=2", "headers": {"Content-Type": ...},
     "signature_method": "RSA-SHA1" | "HMAC-SHA1" | ...,
     "signature_type": "AUTH_HEADER" | "QUERY" | "BODY",
     "client_key": "...", "client_secret": "...", "rsa_key": "PEM",
     "resource_owner_key": null | "...", "nonce": "...", "timestamp": "...",
     "realm": null | "..."}
    -> {"uri": "...", "headers": {...}, "body": null | "..."}

CASE "verify": oauthlib computes the signature base string of a signed
request with oauthlib.oauth1.rfc5849.signature and checks its signature.
    {"op": "verify", "method": ..., "uri": ..., "headers": {...},
     "body": null | "...", "signature_method": "RSA-SHA1" | "HMAC-SHA1",
     "rsa_public_key": "PEM", "client_secret": "..."}
    -> {"base_string": "...", "valid": true | false}
"""

import json
import sys
import traceback
from urllib.parse import urlparse

from oauthlib import oauth1
from oauthlib.common import Request
from oauthlib.oauth1.rfc5849 import signature

# Loading a PEM key (cryptography checks it) costs far more than signing;
# every case of a batch uses the same few keys, so load each once.
_prepared_keys = {}
_prepare_key_plus = signature._prepare_key_plus


def _cached_prepare_key_plus(alg, keystr):
    cache_key = (alg.hash_alg.name, keystr)
    if cache_key not in _prepared_keys:
        _prepared_keys[cache_key] = _prepare_key_plus(alg, keystr)
    return _prepared_keys[cache_key]


signature._prepare_key_plus = _cached_prepare_key_plus

SIGNATURE_TYPES = {
    "AUTH_HEADER": oauth1.SIGNATURE_TYPE_AUTH_HEADER,
    "QUERY": oauth1.SIGNATURE_TYPE_QUERY,
    "BODY": oauth1.SIGNATURE_TYPE_BODY,
}


def sign(case):
    client = oauth1.Client(
        case["client_key"],
        client_secret=case.get("client_secret"),
        resource_owner_key=case.get("resource_owner_key"),
        signature_method=case["signature_method"],
        signature_type=SIGNATURE_TYPES[case.get("signature_type", "AUTH_HEADER")],
        rsa_key=case.get("rsa_key"),
        nonce=case.get("nonce"),
        timestamp=case.get("timestamp"),
        realm=case.get("realm"),
    )
    uri, headers, body = client.sign(
        case["uri"],
        http_method=case["method"],
        body=case.get("body"),
        headers=dict(case.get("headers") or {}),
    )
    return {"uri": uri, "headers": dict(headers), "body": body}


def verify(case):
    uri = case["uri"]
    headers = dict(case.get("headers") or {})
    body = case.get("body")
    query = urlparse(uri).query
    params = signature.collect_parameters(
        uri_query=query, body=body, headers=headers, exclude_oauth_signature=True
    )
    with_sig = signature.collect_parameters(
        uri_query=query, body=body, headers=headers, exclude_oauth_signature=False
    )
    sigs = [v for k, v in with_sig if k == "oauth_signature"]
    base_string = signature.signature_base_string(
        case["method"],
        signature.base_string_uri(uri),
        signature.normalize_parameters(params),
    )

    request = Request(uri, http_method=case["method"], body=body, headers=headers)
    request.params = params
    request.signature = sigs[0] if len(sigs) == 1 else ""

    method = case["signature_method"]
    if len(sigs) != 1:
        valid = False
    elif method == "RSA-SHA1":
        valid = signature.verify_rsa_sha1(request, case["rsa_public_key"])
    elif method == "HMAC-SHA1":
        valid = signature.verify_hmac_sha1(request, case.get("client_secret"), "")
    else:
        raise ValueError("unsupported signature method %r" % method)
    return {"base_string": base_string, "valid": bool(valid)}


OPS = {"sign": sign, "verify": verify}


def main():
    doc = json.load(sys.stdin)
    results = []
    for case in doc["cases"]:
        try:
            results.append(OPS[case["op"]](case))
        except Exception as e:  # reported per case, the batch goes on
            results.append({"error": "%s: %s" % (type(e).__name__, e),
                            "trace": traceback.format_exc()})
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()
