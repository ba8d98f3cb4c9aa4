#!/usr/bin/python3
"""46-avatar: User Avatar (XEP-0084) through mod_pep with slixmpp's
xep_0084 plugin: data and metadata published on their two nodes, the
metadata notified to contacts interested in it (the plugin advertises
urn:xmpp:avatar:metadata+notify) and not the data, the data fetched by
item id, the last metadata to a contact's new resource, strangers kept out
by the presence access model, and disabling the avatar (§4.5)."""

import base64
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, assert_no_stanza, run_tests, wait_stanza  # noqa: E402
from pep_util import (PUBSUB, befriend, client, event_payload, expect_error, is_item_event,  # noqa: E402
                      items, publish, published_id, user)

DATA = "urn:xmpp:avatar:data"
META = "urn:xmpp:avatar:metadata"


def image(size):
    """Some bytes that look like a PNG (the server does not care)."""
    body = hashlib.sha256(str(size).encode()).digest() * (size // 32 + 1)
    return b"\x89PNG\r\n\x1a\n" + body[:size - 8]


async def publish_avatar(c, data):
    id = hashlib.sha1(data).hexdigest()
    await c["xep_0084"].publish_avatar(data)
    await c["xep_0084"].publish_avatar_metadata(
        # slixmpp 1.8 wants the attributes as strings
        items={"id": id, "type": "image/png", "bytes": str(len(data)), "height": "64",
               "width": "64"})
    return id


def fetched_data(reply):
    el = reply.xml.find(".//{%s}item/{%s}data" % (PUBSUB, DATA))
    if el is None:
        raise TestFailure("no avatar data in %s" % str(reply)[:300])
    return base64.b64decode("".join((el.text or "").split()))


async def test_publish_notify_fetch(srv):
    a = await user(srv, "alice", plugins=["xep_0084"])
    b = await user(srv, "bob", plugins=["xep_0084"])
    await befriend(a, b)
    data = image(40000)
    id = await publish_avatar(a, data)
    ev = await wait_stanza(b, is_item_event(META, id, frm=a.boundjid.bare))
    info = event_payload(ev, META).find("{%s}info" % META)
    if info is None or info.get("id") != id or info.get("bytes") != str(len(data)):
        raise TestFailure("metadata notification: %s" % ev)
    await assert_no_stanza(b, is_item_event(DATA), what="avatar data pushed without data+notify")
    # XEP-0084 §4.2: the contact fetches the data by the id in the metadata
    got = fetched_data(await b["xep_0084"].retrieve_avatar(a.boundjid.bare, id))
    if got != data:
        raise TestFailure("fetched %d bytes, not the published %d" % (len(got), len(data)))


async def test_last_metadata_to_new_resource(srv):
    a = await user(srv, "alice", plugins=["xep_0084"])
    b = await user(srv, "bob", plugins=["xep_0084"])
    await befriend(a, b)
    id = await publish_avatar(a, image(2000))
    await wait_stanza(b, is_item_event(META, id))
    b2 = await client(srv, b.boundjid.bare, b.h_password, "second", plugins=["xep_0084"])
    await wait_stanza(b2, is_item_event(META, id, frm=a.boundjid.bare))


async def test_strangers_and_disabling(srv):
    a = await user(srv, "alice", plugins=["xep_0084"])
    b = await user(srv, "bob", plugins=["xep_0084"])
    stranger = await user(srv, "eve", plugins=["xep_0084"])
    await befriend(a, b)
    data = image(500)
    id = await publish_avatar(a, data)
    await wait_stanza(b, is_item_event(META, id))
    expect_error(await items(stranger, a.boundjid.bare, DATA), "not-authorized")
    expect_error(await items(stranger, a.boundjid.bare, META), "not-authorized")
    # §4.5: an empty <metadata/> disables the avatar
    published_id(await publish(a, META, "<metadata xmlns='%s'/>" % META, id="current"))
    ev = await wait_stanza(b, is_item_event(META, "current"))
    if list(event_payload(ev, META)):
        raise TestFailure("disabling notification not empty: %s" % ev)


if __name__ == "__main__":
    run_tests([
        test_publish_notify_fetch,
        test_last_metadata_to_new_resource,
        test_strangers_and_disabling,
    ], srv=Server())
