#!/usr/bin/env python3
"""Refresh tokens for the refresh benchmark, obtained the way a person would: one confidential
client registered over DCR, then COUNT authorization-code + PKCE journeys of the demo user
(sign-in, organization, consent), each code redeemed for a token pair. Prints the client's
credentials as JSON on the first line, then one refresh token per line.

usage: refresh_tokens.py BASE_URL PASSWORD COUNT [RESOURCE]

BASE_URL is where the server listens; the redirects it answers with (to its public URL) are
followed on BASE_URL. Standard library only.
"""
import base64
import hashlib
import http.cookiejar
import json
import re
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request

SLUG = "demo-notes"
EMAIL = "demo@example.com"
REDIRECT = "http://127.0.0.1:9/cb"
SCOPE = "notes.read"
RESOURCE = sys.argv[4] if len(sys.argv) > 4 else "https://api.example.test"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def main():
    base, password, count = sys.argv[1].rstrip("/"), sys.argv[2], int(sys.argv[3])
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)

    def send(method, url, body=None, headers=None):
        """(status, Location path+query or None, body text)"""
        if not url.startswith("http"):
            url = base + url
        req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        try:
            res = browser.open(req)
        except urllib.error.HTTPError as e:
            res = e
        location = res.headers.get("Location")
        if location:
            parts = urllib.parse.urlsplit(location)
            location = parts.path + ("?" + parts.query if parts.query else "")
        return res.status, location, res.read().decode()

    def form(url, fields):
        return send("POST", url, urllib.parse.urlencode(fields).encode(),
                    {"Content-Type": "application/x-www-form-urlencoded"})

    def hidden(html, name):
        m = re.search(r'name="%s" value="([^"]*)"' % name, html)
        if not m:
            sys.exit(f"no field {name} on the page:\n{html[:2000]}")
        return m.group(1)

    status, _, body = send("POST", f"/s/{SLUG}/register", json.dumps({
        "client_name": "refresh bench",
        "application_type": "native",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    }).encode(), {"Content-Type": "application/json"})
    if status != 201:
        sys.exit(f"registration refused ({status}): {body}")
    client = json.loads(body)
    basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
    print(json.dumps({"client_id": client["client_id"], "client_secret": client["client_secret"]}))

    for _ in range(count):
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": client["client_id"], "redirect_uri": REDIRECT,
            "scope": SCOPE, "state": "bench", "code_challenge": challenge,
            "code_challenge_method": "S256", "resource": RESOURCE,
        })
        status, to, body = send("GET", f"/s/{SLUG}/authorize?{query}")
        code = None
        for _step in range(8):
            if to is None:
                sys.exit(f"the journey stopped ({status}): {body[:2000]}")
            params = urllib.parse.parse_qs(urllib.parse.urlsplit(to).query)
            journey = params.get("journey", [""])[0]
            if to.startswith("/cb"):
                if "code" not in params:
                    sys.exit(f"the journey ended without a code: {to}")
                code = params["code"][0]
                break
            page = send("GET", to)[2]
            if to.startswith("/sign-in"):
                status, to, body = form("/sign-in", {"csrf": hidden(page, "csrf"), "journey": journey,
                                                     "email": EMAIL, "password": password})
            elif to.startswith("/authorize/tenant"):
                tenant = re.search(r'name="tenant" value="([^"]+)"', page)
                if not tenant:
                    sys.exit(f"no organization to choose:\n{page[:2000]}")
                status, to, body = form("/authorize/tenant", {"csrf": hidden(page, "csrf"), "journey": journey,
                                                              "tenant": tenant.group(1)})
            elif to.startswith("/authorize/consent"):
                status, to, body = form("/authorize/consent", {"csrf": hidden(page, "csrf"), "journey": journey,
                                                               "decision": "allow", "scope": SCOPE})
            else:
                sys.exit(f"unexpected step {to}")
        if code is None:
            sys.exit("the journey did not end")
        status, _, body = send("POST", f"/s/{SLUG}/token", urllib.parse.urlencode({
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "code_verifier": verifier, "resource": RESOURCE,
        }).encode(), {"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {basic}"})
        if status != 200:
            sys.exit(f"code refused ({status}): {body}")
        print(json.loads(body)["refresh_token"])


if __name__ == "__main__":
    main()
