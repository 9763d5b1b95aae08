"""A stub OpenID Connect provider on loopback, for signing in through Streamlit's st.login in a real browser.

It speaks what Streamlit's Authlib client asks of a real provider (discovery document, authorize
redirect, code-for-token exchange, signed RS256 ID token, JWKS) and signs in whoever
:attr:`OIDCStub.email` names, without a login form: the test chooses the identity.
"""
from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from authlib.jose import JsonWebKey, jwt


class OIDCStub:
    def __init__(self, client_id: str = "detector-test", client_secret: str = "test-secret"):
        self.client_id, self.client_secret = client_id, client_secret
        self.email = "ana@example.org"
        self.key = JsonWebKey.generate_key("RSA", 2048, is_private=True, options={"kid": "stub"})
        self._codes: dict[str, dict] = {}
        self.tokens_issued = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def close(self) -> None:
        self._server.shutdown()

    def _metadata(self) -> dict:
        return {"issuer": self.url, "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token", "jwks_uri": f"{self.url}/jwks",
                "userinfo_endpoint": f"{self.url}/userinfo", "response_types_supported": ["code"],
                "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"]}

    def _id_token(self, grant: dict) -> str:
        now = int(time.time())
        claims = {"iss": self.url, "sub": grant["email"], "aud": self.client_id, "iat": now, "exp": now + 600,
                  "email": grant["email"], "email_verified": True, "name": grant["email"].split("@")[0]}
        if grant.get("nonce"):
            claims["nonce"] = grant["nonce"]
        return jwt.encode({"alg": "RS256", "kid": "stub"}, claims, self.key).decode()

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _json(self, body: dict, status: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(url.query))
                if url.path == "/.well-known/openid-configuration":
                    return self._json(stub._metadata())
                if url.path == "/jwks":
                    return self._json({"keys": [stub.key.as_dict(is_private=False)]})
                if url.path == "/authorize":
                    if q.get("client_id") != stub.client_id:
                        return self._json({"error": "unauthorized_client"}, 400)
                    code = secrets.token_urlsafe(16)
                    stub._codes[code] = {"email": stub.email, "nonce": q.get("nonce"),
                                         "redirect_uri": q["redirect_uri"]}
                    back = q["redirect_uri"] + "?" + urllib.parse.urlencode({"code": code, "state": q.get("state", "")})
                    self.send_response(302)
                    self.send_header("Location", back)
                    self.end_headers()
                    return None
                if url.path == "/userinfo":
                    return self._json({"sub": stub.email, "email": stub.email})
                return self._json({"error": "not_found"}, 404)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                if urllib.parse.urlsplit(self.path).path != "/token":
                    return self._json({"error": "not_found"}, 404)
                grant = stub._codes.pop(form.get("code", ""), None)
                if grant is None:
                    return self._json({"error": "invalid_grant"}, 400)
                stub.tokens_issued += 1
                return self._json({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                                   "expires_in": 600, "id_token": stub._id_token(grant), "scope": "openid email profile"})

        return Handler
