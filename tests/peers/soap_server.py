"""A real SOAP server for the tests and the benchmark: spyne, served by uvicorn on 127.0.0.1.

One spyne service (``urn:interlink:test``) with a WSDL, mounted four ways on one WSGI app:
``/soap11/`` and ``/soap12/`` open, ``/basic/`` behind HTTP Basic (the WSDL too), and the
same app served over HTTPS with client certificates required (the mTLS peer). ``Fail``
answers a Fault; ``Headers`` echoes the request headers a test asserts on; ``Slow`` sleeps;
``Big`` answers a large reply.
"""

from __future__ import annotations

import base64
import logging
import time
from typing import Any

from spyne import Application, Fault, Integer, Iterable, ServiceBase, Unicode, rpc
from spyne.protocol.soap import Soap11, Soap12
from spyne.server.wsgi import WsgiApplication

NAMESPACE = "urn:interlink:test"
BASIC_USER, BASIC_PASSWORD = "soapuser", "s3cret-pw"


class TestService(ServiceBase):
    @rpc(Unicode, _returns=Unicode)
    def Echo(ctx, text):  # noqa: N802,N805 - SOAP operation names
        return text

    @rpc(Integer, Integer, _returns=Integer)
    def Add(ctx, a, b):  # noqa: N802,N805
        return a + b

    @rpc(Unicode, Unicode, _returns=Unicode)
    def Fail(ctx, code, message):  # noqa: N802,N805
        raise Fault(faultcode=code or "Server.Broken", faultstring=message or "it broke",
                    detail={"reason": "asked to fail"})

    @rpc(_returns=Iterable(Unicode))
    def Headers(ctx):  # noqa: N802,N805
        environ = ctx.transport.req_env
        for key in sorted(environ):
            if key.startswith("HTTP_"):
                yield f"{key[5:].replace('_', '-').lower()}: {environ[key]}"

    @rpc(Integer, _returns=Unicode)
    def Slow(ctx, milliseconds):  # noqa: N802,N805
        time.sleep(milliseconds / 1000)
        return "done"

    @rpc(Integer, _returns=Unicode)
    def Big(ctx, size):  # noqa: N802,N805
        return "x" * size


def _wsgi(protocol: Any) -> WsgiApplication:
    application = Application([TestService], tns=NAMESPACE, in_protocol=protocol(validator="lxml"),
                              out_protocol=protocol())
    return WsgiApplication(application)


class _Basic:
    """HTTP Basic in front of a WSGI app (WSDL included)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.expected = "Basic " + base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("HTTP_AUTHORIZATION") != self.expected:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="soap"'),
                                                ("Content-Type", "text/plain")])
            return [b"authentication required"]
        return self.app(environ, start_response)


class _Mount:
    """Dispatch on the first path segment; the mounted app sees the rest as PATH_INFO."""

    def __init__(self, apps: dict[str, Any]) -> None:
        self.apps = apps

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "/")
        prefix, _, rest = path.lstrip("/").partition("/")
        app = self.apps.get(prefix)
        if app is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"no such service"]
        environ = dict(environ)
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + "/" + prefix
        environ["PATH_INFO"] = "/" + rest
        return app(environ, start_response)


class SoapPeer:
    """The whole WSGI app; ``counter`` counts WSDL fetches of ``/counted/``, ``wsse`` is the
    WS-Security checker (set by the tests that need one)."""

    def __init__(self, wsse: Any = None) -> None:
        logging.getLogger("spyne").setLevel(logging.CRITICAL)  # faults on purpose are not errors here
        self.counter = WsdlCounter(_wsgi(Soap11))
        self.mount = _Mount({
            "soap11": _wsgi(Soap11), "soap12": _wsgi(Soap12), "basic": _Basic(_wsgi(Soap11)),
            "counted": self.counter, "hostile": _hostile,
        })
        if wsse is not None:
            self.mount.apps["wsse"] = wsse

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.mount(environ, start_response)


# -- hostile replies and WS-Security checks (plain WSGI, mounted next to the services) --------
XXE_REPLY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<tns:EchoResponse xmlns:tns="urn:interlink:test"><tns:EchoResult>&xxe;</tns:EchoResult></tns:EchoResponse>
</soap:Body></soap:Envelope>"""

LAUGHS_REPLY = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<tns:EchoResponse xmlns:tns="urn:interlink:test"><tns:EchoResult>&lol4;</tns:EchoResult></tns:EchoResponse>
</soap:Body></soap:Envelope>"""


def _hostile(environ: dict[str, Any], start_response: Any) -> Any:
    path = environ.get("PATH_INFO", "")
    if path.endswith("echo"):  # answers the bytes the client asked for (the fuzz test's replies)
        status = environ.get("HTTP_X_REPLY_STATUS", "200")
        start_response(f"{status} Whatever", [("Content-Type", "text/xml; charset=utf-8")])
        return [base64.b64decode(environ.get("HTTP_X_REPLY", ""))]
    body = XXE_REPLY if path.endswith("xxe") else LAUGHS_REPLY
    start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8")])
    return [body]


class WsseChecker:
    """Checks the WS-Security header of each request, then lets the SOAP 1.1 service answer.

    ``/wsse/<reply>/``: ``<reply>`` is ``plain`` (unsigned reply), ``signed`` (signed with the
    server key) or ``forged`` (signed with a key the client does not know). What was checked
    is recorded in ``self.seen`` for the tests. A bad header answers a Fault.
    """

    def __init__(self, *, password: str, client_cert_pem: str | None = None,
                 server_key_pem: str | None = None, server_cert_pem: str | None = None,
                 forged_key_pem: str | None = None, forged_cert_pem: str | None = None) -> None:
        self.service = _wsgi(Soap11)
        self.password = password
        self.client_cert_pem = client_cert_pem
        self.server = (server_key_pem, server_cert_pem)
        self.forged = (forged_key_pem, forged_cert_pem)
        self.seen: list[dict[str, Any]] = []

    def _check(self, envelope: Any) -> dict[str, Any]:
        import hashlib

        ns = {"wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
              "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
              "ds": "http://www.w3.org/2000/09/xmldsig#"}
        seen: dict[str, Any] = {"timestamp": envelope.find(".//wsu:Timestamp", ns) is not None}
        token = envelope.find(".//wsse:UsernameToken", ns)
        if token is not None:
            password = token.find("wsse:Password", ns)
            seen["username"] = token.findtext("wsse:Username", namespaces=ns)
            seen["password_type"] = (password.get("Type") or "").rsplit("#", 1)[-1]
            if seen["password_type"] == "PasswordDigest":
                nonce = base64.b64decode(token.findtext("wsse:Nonce", namespaces=ns))
                created = token.findtext("wsu:Created", namespaces=ns).encode()
                expected = base64.b64encode(hashlib.sha1(nonce + created + self.password.encode()).digest()).decode()
                seen["password_ok"] = password.text == expected
            else:
                seen["password_ok"] = password.text == self.password
        seen["signed"] = envelope.find(".//ds:Signature", ns) is not None
        if seen["signed"] and self.client_cert_pem:
            from zeep.wsse.signature import MemorySignature

            try:
                MemorySignature(b"", self.client_cert_pem.encode()).verify(envelope)
                seen["signature_ok"] = True
            except Exception:
                seen["signature_ok"] = False
        return seen

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        from lxml import etree

        reply_mode = environ.get("PATH_INFO", "/").strip("/") or "plain"
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        envelope = etree.fromstring(body)
        seen = self._check(envelope)
        self.seen.append(seen)
        if seen.get("password_ok") is False or seen.get("signature_ok") is False:
            fault = (b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
                     b"<soap:Fault><faultcode>soap:Client</faultcode><faultstring>security header refused"
                     b"</faultstring></soap:Fault></soap:Body></soap:Envelope>")
            start_response("500 Internal Server Error", [("Content-Type", "text/xml; charset=utf-8")])
            return [fault]
        # let spyne answer the request, without the Security header it does not know
        header = envelope.find("{http://schemas.xmlsoap.org/soap/envelope/}Header")
        if header is not None:
            envelope.remove(header)
        inner_body = etree.tostring(envelope)
        inner = dict(environ, PATH_INFO="/", CONTENT_LENGTH=str(len(inner_body)))
        import io

        inner["wsgi.input"] = io.BytesIO(inner_body)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[Any], exc_info: Any = None) -> None:
            captured["status"], captured["headers"] = status, headers

        reply = b"".join(self.service(inner, capture))
        if reply_mode in ("signed", "forged"):
            from zeep.wsse.signature import MemorySignature

            key, cert = self.server if reply_mode == "signed" else self.forged
            doc = etree.fromstring(reply)
            MemorySignature(key.encode(), cert.encode()).apply(doc, {})
            reply = etree.tostring(doc)
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], headers + [("Content-Length", str(len(reply)))])
        return [reply]


class WsdlCounter:
    """Counts WSDL requests (``?wsdl``) passing to ``app``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.count = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("QUERY_STRING", "").lower() == "wsdl":
            self.count += 1
        return self.app(environ, start_response)
