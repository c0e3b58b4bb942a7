"""Hostile calls to the running logger's xmlrpc server: each gets the fault the logger defines, nothing is
stored, the server keeps serving, and no fault or header shows internals."""

from __future__ import annotations

import gzip
import http.client
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hostile_support import MARK, MIB, ODD_TEXT, TIMEOUT, TOO_LARGE, assert_no_leak, exchange, unique

from labtest import Lab

NOT_A_CALL = "request body is not an XML-RPC call"
ONE_STRUCT = "LogInfo takes one argument: a struct with name and data"


def call(*params: object, method: str = "LogInfo") -> bytes:
    return xmlrpc.client.dumps(params, method, allow_none=True).encode()


def raw_call(value_xml: str) -> bytes:
    return (
        f"<?xml version='1.0'?><methodCall><methodName>LogInfo</methodName><params><param>"
        f"<value><struct><member><name>name</name><value>{value_xml}</value></member>"
        f"<member><name>data</name><value><string>{MARK}</string></value></member>"
        f"</struct></value></param></params></methodCall>"
    ).encode()


ENTRY = {"name": "n", "data": MARK}
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY l0 "lol">'
    + "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    + "]><methodCall><methodName>LogInfo</methodName><params><param><value><struct>"
    f"<member><name>name</name><value><string>&l9;</string></value></member>"
    f"<member><name>data</name><value><string>{MARK}</string></value></member>"
    "</struct></value></param></params></methodCall>"
).encode()
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    "<methodCall><methodName>LogInfo</methodName><params><param><value><struct>"
    f"<member><name>name</name><value><string>{MARK}&e;</string></value></member>"
    f"<member><name>data</name><value><string>{MARK}&e;</string></value></member>"
    "</struct></value></param></params></methodCall>"
).encode()


@dataclass(frozen=True)
class Fault:
    code: int
    message: str


FAULTS = [
    pytest.param(call(5), Fault(400, ONE_STRUCT), id="int"),
    pytest.param(call([ENTRY]), Fault(400, ONE_STRUCT), id="list"),
    pytest.param(call(None), Fault(400, ONE_STRUCT), id="nil"),
    pytest.param(call(MARK), Fault(400, ONE_STRUCT), id="string"),
    pytest.param(call(xmlrpc.client.Binary(MARK.encode())), Fault(400, ONE_STRUCT), id="binary"),
    pytest.param(call(), Fault(400, ONE_STRUCT), id="no-arguments"),
    pytest.param(call(ENTRY, ENTRY), Fault(400, ONE_STRUCT), id="two-arguments"),
    pytest.param(call({"data": MARK}), Fault(400, "name is required"), id="no-name"),
    pytest.param(call({"name": None, "data": MARK}), Fault(400, "name is required"), id="nil-name"),
    pytest.param(call({"name": "", "data": MARK}), Fault(400, "name must not be empty"), id="empty-name"),
    pytest.param(call({"name": 7, "data": MARK}), Fault(400, "name must be a string"), id="int-name"),
    pytest.param(call({"name": 1.5, "data": MARK}), Fault(400, "name must be a string"), id="double-name"),
    pytest.param(call({"name": True, "data": MARK}), Fault(400, "name must be a string"), id="bool-name"),
    pytest.param(call({"name": [MARK], "data": MARK}), Fault(400, "name must be a string"), id="list-name"),
    pytest.param(
        call({"name": {"a": {"b": {"c": MARK}}}, "data": MARK}),
        Fault(400, "name must be a string"),
        id="nested-struct-name",
    ),
    pytest.param(
        call({"name": "n", "data": xmlrpc.client.Binary(MARK.encode())}),
        Fault(400, "data must be a string"),
        id="binary-data",
    ),
    pytest.param(
        call({"name": "n", "data": xmlrpc.client.DateTime(0)}),
        Fault(400, "data must be a string"),
        id="datetime-data",
    ),
    pytest.param(
        raw_call("<int>99999999999999999999999999</int>"), Fault(400, "name must be a string"), id="bigint"
    ),
    pytest.param(raw_call("<int>x</int>"), Fault(400, NOT_A_CALL), id="int-not-a-number"),
    pytest.param(raw_call("<unknowntype>x</unknowntype>"), Fault(400, NOT_A_CALL), id="unknown-type"),
    pytest.param(call({**ENTRY, "event_id": 12}), Fault(400, "event_id must be a string"), id="int-event-id"),
    pytest.param(
        call({**ENTRY, "event_id": "e" * 129}),
        Fault(400, "event_id must be at most 128 characters"),
        id="long-event-id",
    ),
    pytest.param(call({"name": MARK, "data": "x" * MIB}), Fault(413, TOO_LARGE), id="over-1mib"),
    pytest.param(
        call(ENTRY, method="Nope"), Fault(404, "method 'Nope' is not supported"), id="unknown-method"
    ),
    pytest.param(
        call(method="system.listMethods"),
        Fault(404, "method 'system.listMethods' is not supported"),
        id="introspection",
    ),
    pytest.param(
        call(ENTRY, method="log_info"), Fault(404, "method 'log_info' is not supported"), id="python-name"
    ),
    pytest.param(
        call(ENTRY, method="__class__.__init__"),
        Fault(404, "method '__class__.__init__' is not supported"),
        id="dotted-name",
    ),
    pytest.param(b"", Fault(400, NOT_A_CALL), id="empty"),
    pytest.param(b"not xml at all", Fault(400, NOT_A_CALL), id="not-xml"),
    pytest.param(
        xmlrpc.client.dumps((ENTRY,), methodresponse=True).encode(), Fault(400, NOT_A_CALL), id="a-response"
    ),
    pytest.param(b"<methodCall><params/></methodCall>", Fault(400, NOT_A_CALL), id="no-method-name"),
    pytest.param(call(ENTRY)[:-20], Fault(400, NOT_A_CALL), id="truncated"),
    pytest.param(call(ENTRY) + b"<extra/>", Fault(400, NOT_A_CALL), id="trailing-element"),
    pytest.param(call(ENTRY).replace(b"LogInfo", b"LogInfo\x00"), Fault(400, NOT_A_CALL), id="nul-byte"),
    pytest.param(raw_call("<string>&#0;</string>"), Fault(400, NOT_A_CALL), id="nul-reference"),
    pytest.param(raw_call("<string>\x01</string>"), Fault(400, NOT_A_CALL), id="control-character"),
    pytest.param(
        b"<?xml version='1.0' encoding='utf-16'?>" + call(ENTRY).partition(b"?>")[2],
        Fault(400, NOT_A_CALL),
        id="wrong-encoding",
    ),
    pytest.param(BILLION_LAUGHS, Fault(400, NOT_A_CALL), id="billion-laughs"),
    pytest.param(EXTERNAL_ENTITY, Fault(400, NOT_A_CALL), id="external-entity"),
    pytest.param(
        b"<methodCall><methodName>LogInfo</methodName><params><param><value>"
        + b"<array><data><value>" * 20_000
        + b"</value></data></array>" * 20_000
        + b"</value></param></params></methodCall>",
        Fault(400, ONE_STRUCT),
        id="deeply-nested",
    ),
]


def fault_of(lab: Lab, body: bytes, headers: dict[str, str] | None = None) -> Fault:
    """The fault the server answers with, after checking the answer shows nothing internal."""
    connection = http.client.HTTPConnection("127.0.0.1", lab.ports.logger_rpc, timeout=TIMEOUT)
    try:
        connection.request("POST", "/", body=body, headers={"Content-Type": "text/xml", **(headers or {})})
        response = connection.getresponse()
        text = response.read()
    finally:
        connection.close()
    assert_no_leak(text.decode(errors="replace"), dict(response.getheaders()))
    assert response.status == 200, (response.status, text[:300])
    with pytest.raises(xmlrpc.client.Fault) as raised:
        xmlrpc.client.loads(text)
    return Fault(raised.value.faultCode, raised.value.faultString)


@pytest.mark.parametrize(("body", "fault"), FAULTS)
def test_hostile_call_gets_the_logger_fault_and_stores_nothing(
    lab: Lab, untouched, still_serving: Callable[[str], None], body: bytes, fault: Fault
) -> None:
    assert fault_of(lab, body) == fault
    untouched.check()
    still_serving("logger_rpc")


TRANSPORT_FAULTS = [
    pytest.param({"Content-Encoding": "gzip"}, Fault(415, "Content-Encoding is not supported"), id="gzip"),
    pytest.param({"Content-Encoding": "br"}, Fault(415, "Content-Encoding is not supported"), id="brotli"),
]


@pytest.mark.parametrize(("headers", "fault"), TRANSPORT_FAULTS)
def test_a_compressed_call_is_refused_so_it_cannot_grow_past_1mib(
    lab: Lab, untouched, still_serving: Callable[[str], None], headers: dict[str, str], fault: Fault
) -> None:
    """A 5 MiB call compresses to a few KiB: decoded, it would pass the 1 MiB limit unseen."""
    body = gzip.compress(call({"name": "n", "data": MARK + "x" * 5 * MIB}))
    assert fault_of(lab, body, headers) == fault
    untouched.check()
    still_serving("logger_rpc")


LENGTH_REQUIRED = Fault(411, "a Content-Length header is required")
FRAMING = [
    pytest.param(b"Transfer-Encoding: chunked\r\n", id="chunked"),
    pytest.param(b"Content-Length: -1\r\n", id="negative-length"),
    pytest.param(b"Content-Length: \xc2\xb2\r\n", id="superscript-length"),
    pytest.param(b"Content-Length: 1e3\r\n", id="float-length"),
    pytest.param(b"", id="no-length"),
]


@pytest.mark.parametrize("header", FRAMING)
def test_a_call_without_a_plain_content_length_is_refused_at_once(
    lab: Lab, untouched, still_serving: Callable[[str], None], header: bytes
) -> None:
    """Without a plain length the body's end is unknown: no waiting for it and no reading past 1 MiB."""
    request = b"POST / HTTP/1.1\r\nHost: logger\r\nContent-Type: text/xml\r\n" + header + b"\r\n"
    answer = exchange(lab.ports.logger_rpc, request)

    assert answer.status == 200, answer
    assert_no_leak(answer.body.decode(errors="replace"), answer.headers)
    with pytest.raises(xmlrpc.client.Fault) as raised:
        xmlrpc.client.loads(answer.body)
    assert Fault(raised.value.faultCode, raised.value.faultString) == LENGTH_REQUIRED
    untouched.check()
    still_serving("logger_rpc")


@pytest.mark.parametrize(("method", "path", "status"), [("GET", "/", 501), ("POST", "/admin", 404)])
def test_other_methods_and_paths_get_an_http_error_without_internals(
    lab: Lab, still_serving: Callable[[str], None], method: str, path: str, status: int
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", lab.ports.logger_rpc, timeout=TIMEOUT)
    connection.request(method, path, body=call(ENTRY) if method == "POST" else None)
    response = connection.getresponse()
    text = response.read().decode(errors="replace")
    connection.close()

    assert response.status == status
    assert_no_leak(text, dict(response.getheaders()))
    still_serving("logger_rpc")


@pytest.mark.parametrize("kind", [kind for kind in ODD_TEXT if kind not in ("nul", "controls")])
def test_odd_text_is_stored_verbatim(lab: Lab, logs_collection, kind: str) -> None:
    name, data = ODD_TEXT[kind], f"{unique(kind)} {ODD_TEXT[kind]}"
    proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{lab.ports.logger_rpc}/", allow_none=True)
    with proxy:
        assert proxy.LogInfo({"name": name, "data": data, "pad": [1, {"x": None}]}) == (
            f"Processed payload via RPC:{name}"
        )
    stored = list(logs_collection.find({"data": data}))
    assert [(entry["name"], entry["transport"]) for entry in stored] == [(name, "rpc")]
