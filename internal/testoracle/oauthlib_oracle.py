#!/usr/bin/python3
"""Independent OAuth 1.0a RSA-SHA1 verifier for the signer tests.

It plays an Atlassian service provider behind Tomcat, with python-oauthlib
(Debian's python3-oauthlib) doing the OAuth work:

* The signed URL is what Tomcat reconstructs: the configured --origin
  (connector proxyName/proxyPort/scheme), plus --prefix (a context path that a
  front load balancer adds), plus the raw path of the request line.
* Body parameters count only where Tomcat parses them into getParameterMap:
  POST with media type exactly application/x-www-form-urlencoded.
* 2LO (oauth_token="") goes through oauthlib's SignatureOnlyEndpoint, since
  ResourceEndpoint refuses any request without a token; 3LO goes through
  ResourceEndpoint. Both run oauthlib's own checks (mandatory parameters,
  version, timestamp, nonce, client key, RSA-SHA1 signature).
* Token endpoints (paths ending in /plugins/servlet/oauth/request-token or
  /access-token) are checked by SignatureOnlyEndpoint too: the signature
  covers every header parameter (oauth_callback, oauth_verifier,
  oauth_session_handle); request-token must carry no oauth_token at all and
  access-token a non-empty one. The verdict lists the header parameters.
* On top, Atlassian's rules: oauth_token must be present (empty for 2LO), the
  impersonated user comes from xoauth_requestor_id (or user_id) in the query
  or form body, never the header, and the header holds only oauth_* names.

Usage: oauthlib_oracle.py --public-key PEM --consumer-key KEY --token TOKEN
       --origin https://host[:port]|auto [--prefix /ctx]
--origin auto is http://127.0.0.1:<the port it listens on>.
(Also used by the transport tests.)
It prints "PORT <n>" once it listens on 127.0.0.1, answers every request with
a JSON verdict (HTTP 200), and exits when its stdin closes.
"""

import argparse
import json
import logging
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from oauthlib.common import urldecode
from oauthlib.oauth1 import RequestValidator, ResourceEndpoint, SignatureOnlyEndpoint
from oauthlib.oauth1.rfc5849 import signature, utils

FORM = "application/x-www-form-urlencoded"


class Validator(RequestValidator):
    enforce_ssl = False                      # the oracle's origin may be http
    allowed_signature_methods = ("RSA-SHA1",)  # an Atlassian RSA consumer
    timestamp_lifetime = 300                 # Atlassian's +-5 minutes

    def __init__(self, consumer_key, public_pem, token):
        super().__init__()
        self.consumer_key = consumer_key
        self.public_pem = public_pem
        self.token = token
        self.nonces = set()
        self.lock = threading.Lock()

    # oauthlib's default format checks (20-30 safe characters) do not fit
    # Atlassian keys or our 64-character hex nonces.
    def check_client_key(self, client_key):
        return 0 < len(client_key) <= 255

    def check_nonce(self, nonce):
        return 0 < len(nonce) <= 255

    def check_access_token(self, token):
        return 0 < len(token) <= 512

    @property
    def dummy_client(self):
        return "dummy-client"

    @property
    def dummy_access_token(self):
        return "dummy-token"

    def validate_client_key(self, client_key, request):
        return client_key == self.consumer_key

    def get_rsa_key(self, client_key, request):
        return self.public_pem

    def validate_access_token(self, client_key, token, request):
        return token == self.token

    def validate_realms(self, client_key, token, request, uri=None, realms=None):
        return True

    def validate_timestamp_and_nonce(self, client_key, timestamp, nonce, request,
                                     request_token=None, access_token=None):
        key = (client_key, access_token or "", timestamp, nonce)
        with self.lock:
            if key in self.nonces:
                return False
            self.nonces.add(key)
            return True


def make_handler(args, validator):
    two_legged = SignatureOnlyEndpoint(validator)
    three_legged = ResourceEndpoint(validator)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *a):  # keep the test output clean
            pass

        def do_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw_body = self.rfile.read(length) if length else b""
            raw_path, _, raw_query = self.path.partition("?")
            verdict = {
                "ok": False,
                "received": {
                    "method": self.command,
                    "path": raw_path,
                    "query": raw_query,
                    "body": raw_body.decode("latin-1"),
                    "content_type": self.headers.get("Content-Type", ""),
                    "authorization": self.headers.get_all("Authorization") or [],
                },
            }
            try:
                verdict.update(self.verify(raw_path, raw_query, raw_body))
            except Exception as e:  # a crash is a FAIL with a reason
                verdict["reason"] = "exception: %r" % (e,)
            out = json.dumps(verdict).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_any

        def do_HEAD(self):
            # HEAD has no response body: report through a header instead.
            length = int(self.headers.get("Content-Length") or 0)
            raw_body = self.rfile.read(length) if length else b""
            raw_path, _, raw_query = self.path.partition("?")
            try:
                v = self.verify(raw_path, raw_query, raw_body)
            except Exception as e:
                v = {"ok": False, "reason": "exception: %r" % (e,)}
            self.send_response(200)
            self.send_header("X-Oracle-Verdict", json.dumps(v, ensure_ascii=True))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def verify(self, raw_path, raw_query, raw_body):
            authz = self.headers.get_all("Authorization") or []
            if len(authz) != 1:
                return {"reason": "want exactly one Authorization header, got %d" % len(authz)}
            if not authz[0].startswith("OAuth "):
                return {"reason": "Authorization is not OAuth"}
            header_params = utils.parse_authorization_header(authz[0])
            names = [k for k, _ in header_params]
            if any(not k.startswith("oauth_") for k in names):
                return {"reason": "non-oauth_ parameter in the header: %r" % names}
            if len(set(names)) != len(names):
                return {"reason": "duplicated header parameter"}
            hp = dict(header_params)
            endpoint = ""
            for e in ("request-token", "access-token"):
                if raw_path.endswith("/plugins/servlet/oauth/" + e):
                    endpoint = e
            if endpoint == "request-token" and "oauth_token" in hp:
                return {"reason": "oauth_token sent to the request-token endpoint"}
            if endpoint == "access-token" and not hp.get("oauth_token"):
                return {"reason": "no oauth_token sent to the access-token endpoint"}
            if not endpoint and "oauth_token" not in hp:
                return {"reason": "oauth_token absent: Atlassian would serve the request anonymously"}

            content_type = self.headers.get("Content-Type", "")
            tomcat_form = self.command == "POST" and content_type.split(";")[0].strip() == FORM
            body = raw_body.decode("utf-8") if tomcat_form else ""

            # getParameter order: query, then form body.
            servlet_params = list(urldecode(raw_query)) if raw_query else []
            if tomcat_form and body:
                servlet_params += list(urldecode(body))
            if any(k.startswith("oauth_") for k, _ in servlet_params):
                return {"reason": "oauth_ parameter outside the header"}
            requestors = [v for k, v in servlet_params if k == "xoauth_requestor_id"]
            legacy = [v for k, v in servlet_params if k == "user_id"]
            if len(requestors) + len(legacy) > 1:
                return {"reason": "several requestor parameters"}
            user = (requestors or legacy or [None])[0]

            uri = args.origin + args.prefix + raw_path
            if raw_query:
                uri += "?" + raw_query
            headers = {"Authorization": authz[0]}
            if content_type:
                headers["Content-Type"] = content_type

            token = hp.get("oauth_token", "")
            if endpoint:
                # Token endpoints: the signature over every header parameter
                # (oauth_callback, oauth_verifier, oauth_session_handle too).
                mode = endpoint
                ok, req = two_legged.validate_request(
                    uri, http_method=self.command, body=body, headers=headers)
            elif token:
                mode = "3lo"
                ok, req = three_legged.validate_protected_resource_request(
                    uri, http_method=self.command, body=body, headers=headers)
            else:
                mode = "impersonation" if user is not None else "2lo"
                ok, req = two_legged.validate_request(
                    uri, http_method=self.command, body=body, headers=headers)
            result = {"ok": bool(ok), "mode": mode, "user": user or "",
                      "oauth_params": {k: utils.unescape(v) for k, v in header_params
                                       if k != "oauth_signature"}}
            if req is not None and getattr(req, "params", None) is not None:
                result["base_string"] = signature.signature_base_string(
                    self.command,
                    signature.base_string_uri(req.uri),
                    signature.normalize_parameters(req.params))
                result["validator_log"] = {k: bool(v) for k, v in req.validator_log.items()}
            if not ok:
                failed = [k for k, v in result.get("validator_log", {}).items() if not v]
                if req is None:
                    result["reason"] = "oauthlib: malformed OAuth request"
                elif not failed:
                    result["reason"] = "oauthlib: refused before the signature check (format, version, timestamp or nonce)"
                else:
                    result["reason"] = "oauthlib: invalid " + ", ".join(failed)
            return result

    return Handler


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--public-key", required=True)
    p.add_argument("--consumer-key", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--origin", required=True)
    p.add_argument("--prefix", default="")
    args = p.parse_args()
    with open(args.public_key) as f:
        public_pem = f.read()
    logging.basicConfig(level=logging.CRITICAL)

    validator = Validator(args.consumer_key, public_pem, args.token)
    server = HTTPServer(("127.0.0.1", 0), make_handler(args, validator))
    if args.origin == "auto":
        args.origin = "http://127.0.0.1:%d" % server.server_address[1]

    def die_with_parent():
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=die_with_parent, daemon=True).start()
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
