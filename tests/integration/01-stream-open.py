#!/usr/bin/python3
"""01-stream-open: the stream header, stream features and the stream errors a
server must send for a bad opening or bad XML (RFC 6120 §4.7, §4.8, §4.9,
§11.1 restricted XML). Wire-level, with RawClient."""

import re

from harness import NS_STREAMS, NS_TLS, RawClient, Server, TestFailure, run_tests

srv = Server()


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


async def test_header_and_features(srv):
    r = RawClient(srv)
    feats = r.open()
    h = r.header
    # §4.7.1: the response header carries from = the served domain.
    check(h.get("from") == srv.domain, "response header from=%r, want %r" % (h.get("from"), srv.domain))
    # §4.7.3: the receiving entity MUST include a stream id.
    check(h.get("id"), "response header has no id: %s" % r.header_text)
    # §4.7.5: version 1.0 offered back to a 1.0 client.
    check(h.get("version") == "1.0", "response version=%r, want '1.0'" % h.get("version"))
    # §4.8.2 / §4.8.5: content namespace jabber:client, stream prefix bound to the streams ns.
    check(h.get("xmlns") == "jabber:client", "default namespace %r" % h.get("xmlns"))
    check(h.get("xmlns:%s" % r.stream_prefix) == NS_STREAMS, "stream prefix not bound to %s" % NS_STREAMS)
    # §5.3.1: mandatory-to-negotiate TLS is announced with <required/>.
    check(re.search(r"<starttls\b[^>]*%s[^>]*>\s*<required\s*/>" % re.escape(NS_TLS), feats),
          "features do not offer required STARTTLS: %s" % feats)
    # A second stream gets a different id.
    r2 = RawClient(srv)
    r2.open()
    check(r2.header.get("id") != h.get("id"), "two streams share the id %r" % h.get("id"))


async def test_xml_lang(srv):
    # §4.7.4: the response header MUST include xml:lang.
    r = RawClient(srv)
    r.open(lang="en")
    check(r.header.get("xml:lang"), "response header without xml:lang: %s" % r.header_text)


async def test_to_case_insensitive(srv):
    # RFC 7622 §3.2: domainparts compare after case mapping.
    r = RawClient(srv)
    r.open(to=srv.domain.upper())
    check(r.header.get("from") == srv.domain, "from=%r for to=%s" % (r.header.get("from"), srv.domain.upper()))


async def test_version_minor_higher(srv):
    # §4.7.5: the response version is the lower of the two (1.0), and the
    # stream proceeds with features.
    r = RawClient(srv)
    feats = r.open(version="1.5")
    check(r.header.get("version") == "1.0", "response version=%r to a 1.5 client" % r.header.get("version"))
    check("<starttls" in feats, "no features for a 1.5 client")


async def test_unsupported_version(srv):
    # §4.9.3.25: a major version the server does not support.
    r = RawClient(srv)
    r.send(r.header_xml(version="2.0"))
    r.expect_header()
    r.expect_stream_error("unsupported-version")


async def test_no_version(srv):
    # §4.7.5: no version means 0.9: the server SHOULD NOT claim 1.0 in its
    # header; refusing the pre-1.0 stream with unsupported-version is the
    # other acceptable answer. Either way no SASL is possible without features.
    r = RawClient(srv)
    r.send(r.header_xml(version=None))
    r.expect_header()
    if r.header.get("version") is None:
        return
    cond = r.stream_error()
    check(cond == "unsupported-version",
          "answered a versionless header with version=%r and no unsupported-version error (got %s)"
          % (r.header.get("version"), cond))


async def test_host_unknown(srv):
    # §4.9.3.6 and §4.9.1.2: the header is still sent, then the error.
    r = RawClient(srv)
    r.send(r.header_xml(to="unknown.example"))
    r.expect_header()
    r.expect_stream_error("host-unknown")


async def test_invalid_stream_namespace(srv):
    # §4.8.1 / §4.9.3.10
    r = RawClient(srv)
    r.send(r.header_xml(stream_ns="http://wrong.example/streams"))
    r.expect_header()
    r.expect_stream_error("invalid-namespace")


async def test_invalid_content_namespace(srv):
    # §4.8.2 / §4.9.3.10: content namespace other than jabber:client on c2s.
    r = RawClient(srv)
    r.send(r.header_xml(xmlns="urn:example:not-jabber-client"))
    r.expect_header()
    r.expect_stream_error("invalid-namespace")


async def test_wrong_root_element(srv):
    # §4.9.3.10: the root is not <stream> in the streams namespace.
    r = RawClient(srv)
    r.send("<?xml version='1.0'?><stream:session xmlns='jabber:client' "
           "xmlns:stream='%s' to='%s' version='1.0'>" % (NS_STREAMS, srv.domain))
    r.expect_header()
    r.expect_stream_error(("invalid-namespace", "bad-format"))


async def test_not_well_formed(srv):
    # §4.9.3.13 (bad-format is the permitted generic form, §4.9.3.1).
    r = RawClient(srv)
    r.open()
    r.send("<message><body>no closing tag</message>")
    r.expect_stream_error(("not-well-formed", "bad-format"))


async def test_not_well_formed_garbage(srv):
    r = RawClient(srv)
    r.open()
    r.send("<<>>&&")
    r.expect_stream_error(("not-well-formed", "bad-format"))


async def test_bad_format_unbound_prefix(srv):
    # An element whose prefix is bound to nothing cannot be processed
    # (§4.9.3.1; bad-namespace-prefix §4.9.3.2 and not-well-formed are the
    # more specific forms).
    r = RawClient(srv)
    r.open()
    r.send("<foo:bar/>")
    r.expect_stream_error(("bad-format", "bad-namespace-prefix", "not-well-formed"))


async def test_invalid_utf8(srv):
    # §11.6: UTF-8 only; invalid octets are not well-formed XML.
    r = RawClient(srv)
    r.open()
    r.send(b"<message><body>\xc3\x28\xff\xfe</body></message>")
    r.expect_stream_error(("not-well-formed", "bad-format", "unsupported-encoding", "invalid-xml"))


async def test_unsupported_encoding(srv):
    # §11.6 / §4.9.3.22: a stream declared in another encoding.
    r = RawClient(srv)
    r.send("<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream xmlns='jabber:client' "
           "xmlns:stream='%s' to='%s' version='1.0'>" % (NS_STREAMS, srv.domain))
    r.expect_header()
    r.expect_stream_error(("unsupported-encoding", "bad-format"))


async def test_restricted_doctype(srv):
    # §11.1: no DTD; the error comes after the server's own header (§4.9.1.2).
    r = RawClient(srv)
    r.send("<?xml version='1.0'?><!DOCTYPE stream:stream [<!ENTITY boom 'x'>]>"
           "<stream:stream xmlns='jabber:client' xmlns:stream='%s' to='%s' version='1.0'>"
           % (NS_STREAMS, srv.domain))
    r.expect_header()
    r.expect_stream_error(("restricted-xml", "bad-format"))


async def test_restricted_comment(srv):
    r = RawClient(srv)
    r.open()
    r.send("<!-- a comment -->")
    r.expect_stream_error(("restricted-xml", "bad-format"))


async def test_restricted_processing_instruction(srv):
    r = RawClient(srv)
    r.open()
    r.send("<?aldis-test some data?>")
    r.expect_stream_error(("restricted-xml", "bad-format"))


async def test_restricted_entity_reference(srv):
    # §11.1: only the five predefined entities and character references.
    # An undeclared entity is also not well-formed, so that is accepted too.
    jid, pw = srv.new_user()
    r = RawClient(srv)
    r.login(jid, pw)
    r.send("<message to='%s'><body>&boom;</body></message>" % jid)
    r.expect_stream_error(("restricted-xml", "bad-format", "not-well-formed"))


async def test_predefined_entities_allowed(srv):
    # The five predefined entities and character references are fine.
    jid, pw = srv.new_user()
    r = RawClient(srv)
    r.login(jid, pw)
    r.send("<iq type='get' id='ent1' to='%s'><query xmlns='urn:aldis:test:nothing' "
           "a='&lt;&gt;&amp;&apos;&quot;&#65;&#x42;'/></iq>" % srv.domain)
    r.expect(r"<iq\b[^>]*\bid=['\"]ent1['\"]")


async def test_unsupported_stanza_type(srv):
    # §4.9.3.24: a first-level element that is not a stanza.
    jid, pw = srv.new_user()
    r = RawClient(srv)
    r.login(jid, pw)
    r.send("<unknown-thing xmlns='jabber:client'/>")
    r.expect_stream_error("unsupported-stanza-type")


async def test_whitespace_keepalive(srv):
    # §4.6.1: whitespace between elements is allowed before and after auth.
    jid, pw = srv.new_user()
    r = RawClient(srv)
    r.open()
    r.send(" \n \t ")
    r.starttls()
    r.send("\n \n")
    r.auth(jid, pw)
    r.bind()
    for _ in range(3):
        r.send(" ")
    reply = r.roundtrip()
    check("type='error'" in reply or 'type="error"' in reply, "unexpected reply %s" % reply)
    check("service-unavailable" in reply, "no service-unavailable for an unserved namespace: %s" % reply)
    check(not r.closed(0.3), "stream closed after whitespace keepalives")


async def test_client_closes_stream(srv):
    # §4.4: the server answers our </stream:stream> with its own and closes.
    r = RawClient(srv)
    r.open()
    r.send("</stream:stream>")
    r.expect(r"</%s:stream>" % r.stream_prefix)
    check(r.closed(), "connection not closed after both streams closed")


if __name__ == "__main__":
    run_tests([
        test_header_and_features, test_xml_lang, test_to_case_insensitive,
        test_version_minor_higher, test_unsupported_version, test_no_version,
        test_host_unknown, test_invalid_stream_namespace, test_invalid_content_namespace,
        test_wrong_root_element, test_not_well_formed, test_not_well_formed_garbage,
        test_bad_format_unbound_prefix, test_invalid_utf8, test_unsupported_encoding,
        test_restricted_doctype, test_restricted_comment, test_restricted_processing_instruction,
        test_restricted_entity_reference, test_predefined_entities_allowed,
        test_unsupported_stanza_type, test_whitespace_keepalive, test_client_closes_stream,
    ], srv)
