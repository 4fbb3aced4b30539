"""The linked application's side of the 3-legged OAuth dance, written the
way Python users write it, with Debian's python3-requests-oauthlib (RSA-SHA1).

Usage: dance.py <flow> <base_url> <consumer_key> <private_key_file> [<callback>]

flow "session": OAuth 1.0a with OAuth1Session, as its documentation shows:
fetch_request_token (with callback_uri), authorization_url,
parse_authorization_response, fetch_access_token.

flow "jira": OAuth 1.0 without callback or verifier, as the python jira
library's jirashell.oauth_dance does it: OAuth1 auth on plain requests.post,
then JIRA's OAuth1(resource_owner_key=access token) on every request.

Protocol with the test: one JSON object per line on stdout. The script
prints {"step": "authorize", "url": ...} and waits for one line on stdin:
the URL the browser was sent back to (flow "session") or anything once the
user approved (flow "jira"). It ends with {"step": "done", "results": [...]},
one result per request: name, status, problem (oauth_problem), body.
"""
import json
import sys
from urllib.parse import parse_qsl

import requests
from oauthlib.oauth1 import SIGNATURE_RSA
from requests_oauthlib import OAuth1, OAuth1Session

REQUEST_TOKEN = "/plugins/servlet/oauth/request-token"
AUTHORIZE = "/plugins/servlet/oauth/authorize"
ACCESS_TOKEN = "/plugins/servlet/oauth/access-token"

results = []


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def problem(resp):
    h = resp.headers.get("WWW-Authenticate", "")
    i = h.find('oauth_problem="')
    if i < 0:
        return ""
    rest = h[i + len('oauth_problem="'):]
    return rest[:rest.find('"')]


def record(name, resp):
    results.append({"name": name, "status": resp.status_code, "problem": problem(resp), "body": resp.text})
    return resp


def wait_for_user():
    line = sys.stdin.readline()
    if not line:
        sys.exit("no answer from the test")
    return line.strip()


def send(prepared):
    with requests.Session() as s:
        return s.send(prepared, timeout=10)


def common_checks(base, consumer, key, access_token, access_secret, request_token, request_secret):
    """Signed requests with the access token, and copies that must fail."""
    auth = OAuth1(consumer, rsa_key=key, signature_method=SIGNATURE_RSA,
                  resource_owner_key=access_token, resource_owner_secret=access_secret)
    query_auth = OAuth1(consumer, rsa_key=key, signature_method=SIGNATURE_RSA, signature_type="query",
                        resource_owner_key=access_token, resource_owner_secret=access_secret)

    record("query-signed", requests.get(base + "/rest/api/2/search?case=query-signed&jql=project%20%3D%20ABC",
                                        auth=query_auth, timeout=10))

    # Tampered copies: the signature covers path, query and form body.
    prep = requests.Request("GET", base + "/rest/api/2/issue/ABC-1?case=tampered-path", auth=auth).prepare()
    prep.url = base + "/rest/api/2/issue/ABC-2?case=tampered-path"
    record("tampered-path", send(prep))
    prep = requests.Request("GET", base + "/rest/api/2/search?case=tampered-query&jql=a", auth=auth).prepare()
    prep.url = base + "/rest/api/2/search?case=tampered-query&jql=b"
    record("tampered-query", send(prep))
    prep = requests.Request("POST", base + "/rest/api/2/comment?case=tampered-body", data={"body": "hello"},
                            auth=auth).prepare()
    prep.body = "body=goodbye"
    prep.headers["Content-Length"] = str(len(prep.body))
    record("tampered-body", send(prep))
    prep = requests.Request("GET", base + "/rest/api/2/myself?case=tampered-method", auth=auth).prepare()
    prep.method = "DELETE"
    record("tampered-method", send(prep))

    # A replayed copy: the second one is refused.
    prep = requests.Request("GET", base + "/rest/api/2/myself?case=replay", auth=auth).prepare()
    record("replay-first", send(prep))
    record("replay-second", send(prep))

    # The request token is spent: neither an access token nor exchangeable again.
    as_access = OAuth1(consumer, rsa_key=key, signature_method=SIGNATURE_RSA,
                       resource_owner_key=request_token, resource_owner_secret=request_secret)
    record("request-token-as-access-token",
           requests.get(base + "/rest/api/2/myself?case=request-token-as-access-token", auth=as_access, timeout=10))
    record("second-exchange", requests.post(base + ACCESS_TOKEN, auth=as_access, timeout=10))

    # A token the proxy never issued.
    stranger = OAuth1(consumer, rsa_key=key, signature_method=SIGNATURE_RSA,
                      resource_owner_key="made-up-token", resource_owner_secret="x")
    record("unknown-token", requests.get(base + "/rest/api/2/myself?case=unknown-token", auth=stranger, timeout=10))


def session_flow(base, consumer, key, callback):
    oauth = OAuth1Session(consumer, rsa_key=key, signature_method=SIGNATURE_RSA, callback_uri=callback)
    tok = oauth.fetch_request_token(base + REQUEST_TOKEN)
    request_token, request_secret = tok["oauth_token"], tok["oauth_token_secret"]
    url = oauth.authorization_url(base + AUTHORIZE)
    emit({"step": "authorize", "url": url, "request_token": request_token,
          "callback_confirmed": tok.get("oauth_callback_confirmed", "")})

    redirect = wait_for_user()
    answer = oauth.parse_authorization_response(redirect)

    # A wrong verifier is refused and does not spend the request token.
    wrong = OAuth1(consumer, rsa_key=key, signature_method=SIGNATURE_RSA, resource_owner_key=request_token,
                   resource_owner_secret=request_secret, verifier="not-the-verifier")
    record("wrong-verifier", requests.post(base + ACCESS_TOKEN, auth=wrong, timeout=10))

    access = oauth.fetch_access_token(base + ACCESS_TOKEN)
    results.append({"name": "access-token", "status": 200, "problem": "",
                    "body": json.dumps({k: v for k, v in access.items() if k != "oauth_token_secret"}),
                    "verifier_seen": answer.get("oauth_verifier", "") != ""})

    record("get", oauth.get(base + "/rest/api/2/myself?case=get&expand=groups", timeout=10))
    record("post-form", oauth.post(base + "/rest/api/2/issue?case=post-form",
                                   data={"summary": "Filed from Python", "labels": "a b+c"}, timeout=10))
    record("post-json", oauth.post(base + "/rest/api/2/issue?case=post-json",
                                   json={"fields": {"summary": "JSON body"}}, timeout=10))
    common_checks(base, consumer, key, access["oauth_token"], access["oauth_token_secret"],
                  request_token, request_secret)


def jira_flow(base, consumer, key):
    # jirashell.oauth_dance, step 1: request token, no callback.
    oauth = OAuth1(consumer, signature_method=SIGNATURE_RSA, rsa_key=key)
    r = requests.post(base + REQUEST_TOKEN, auth=oauth, timeout=10)
    record("request-token", r)
    request = dict(parse_qsl(r.text))
    request_token, request_secret = request["oauth_token"], request["oauth_token_secret"]

    oauth = OAuth1(consumer, signature_method=SIGNATURE_RSA, rsa_key=key,
                   resource_owner_key=request_token, resource_owner_secret=request_secret)
    # The user pressed ENTER before approving.
    record("exchange-before-approval", requests.post(base + ACCESS_TOKEN, auth=oauth, timeout=10))

    # Step 2: the user approves in a browser, then presses ENTER.
    emit({"step": "authorize", "url": base + AUTHORIZE + "?oauth_token=" + request_token,
          "request_token": request_token, "callback_confirmed": request.get("oauth_callback_confirmed", "")})
    wait_for_user()

    # Step 3: the access token, with the request token and no verifier.
    r = requests.post(base + ACCESS_TOKEN, auth=oauth, timeout=10)
    record("access-token", r)
    access = dict(parse_qsl(r.text))

    # JIRA(oauth={...}) signs every request like this.
    auth = OAuth1(consumer, rsa_key=key, signature_method=SIGNATURE_RSA,
                  resource_owner_key=access["oauth_token"], resource_owner_secret=access["oauth_token_secret"])
    record("get", requests.get(base + "/rest/api/2/myself?case=get", auth=auth, timeout=10))
    record("post-json", requests.post(base + "/rest/api/2/issue?case=post-json", auth=auth,
                                      json={"fields": {"summary": "from jira"}}, timeout=10))
    common_checks(base, consumer, key, access["oauth_token"], access["oauth_token_secret"],
                  request_token, request_secret)


def main():
    flow, base, consumer, key_file = sys.argv[1:5]
    with open(key_file) as f:
        key = f.read()
    if flow == "session":
        session_flow(base, consumer, key, sys.argv[5])
    elif flow == "jira":
        jira_flow(base, consumer, key)
    else:
        sys.exit("unknown flow " + flow)
    emit({"step": "done", "results": results})


if __name__ == "__main__":
    main()
