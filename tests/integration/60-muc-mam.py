#!/usr/bin/python3
"""60-muc-mam: XEP-0313 archives of rooms (§5.1.2): a persistent room with
logging on archives its groupchat messages under the XEP-0359 stanza-id it
stamped; occupants and members query it at the room's JID with the data
form filters and XEP-0059 paging in both directions; status 170 on
entering a logged room; the archive outlives a restart. Errors: a
non-member of a members-only room and a banned user are refused
(forbidden), a room without logging (or a temporary one) keeps no archive
(service-unavailable, no urn:xmpp:mam:2 in disco#info), unknown fields and
ids are refused. A destroyed room takes its archive with it: a new room of
the same name starts empty."""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, TestFailure, run_tests  # noqa: E402
from muc_util import (NS_CLIENT, NS_MAM, NS_SID, PERSISTENT, admin, codes, configure,  # noqa: E402
                      create, features, join_ok, mam_form, mam_query, new_room, occupant,
                      rsm_text, say, show)
from roster_peer import C, Peer  # noqa: E402


def bodies(results):
    return [m.findtext("{%s}body" % NS_CLIENT) for _, m in results]


async def logged_room(srv, fields=None):
    a = await occupant(srv)
    room = new_room(srv)
    cfg = dict(PERSISTENT)
    cfg.update(fields or {})
    await create(a, room, "alice", cfg)
    return a, room


async def test_archive_query_and_ids(srv):
    a, room = await logged_room(srv)
    b = await occupant(srv)
    st = await join_ok(b, room, "bob")
    if 170 not in codes(st):
        raise TestFailure("§7.2.12: no 170 entering a logged room: %s" % show(st))
    sids = [await say(a, room, "m%d" % i) for i in range(3)]
    sids.append(await say(b, room, "from bob"))
    if NS_MAM not in await features(b, room):
        raise TestFailure("urn:xmpp:mam:2 not in the room's disco#info")
    results, fin = await mam_query(b, room)
    if bodies(results) != ["m0", "m1", "m2", "from bob"]:
        raise TestFailure("archive: %s" % bodies(results))
    # the archive id is the stanza-id the room gave the message live
    if [i for i, _ in results] != sids:
        raise TestFailure("ids %s != stanza-ids %s" % ([i for i, _ in results], sids))
    m = results[0][1]
    if m.get("from") != room + "/alice" or m.get("type") != "groupchat":
        raise TestFailure("archived message: %s" % show(m))
    sid = m.find("{%s}stanza-id" % NS_SID)
    if sid is None or sid.get("id") != sids[0]:
        raise TestFailure("archived message without its stanza-id: %s" % show(m))
    if fin is None or fin.get("complete") != "true" or rsm_text(fin, "count") != "4":
        raise TestFailure("fin: %s" % show(fin) if fin is not None else "no fin")
    # 'with' a nick: that occupant's messages only
    results, _ = await mam_query(b, room, mam_form({"with": room + "/bob"}))
    if bodies(results) != ["from bob"]:
        raise TestFailure("with=nick: %s" % bodies(results))
    # after-id
    results, _ = await mam_query(b, room, mam_form({"after-id": sids[1]}))
    if bodies(results) != ["m2", "from bob"]:
        raise TestFailure("after-id: %s" % bodies(results))
    # the form
    reply = await b.iq("<query xmlns='%s'/>" % NS_MAM, to=room)
    if reply.get("type") != "result" or reply.find("{%s}query/{jabber:x:data}x" % NS_MAM) is None:
        raise TestFailure("form: %s" % show(reply))
    # XEP-0334 no-permanent-store: delivered, not kept
    b.send("<message to='%s' type='groupchat'><body>ephemeral</body>"
           "<no-permanent-store xmlns='urn:xmpp:hints'/></message>" % room)
    await a.wait(lambda s: s.findtext(C("body")) == "ephemeral")
    results, _ = await mam_query(b, room)
    if "ephemeral" in bodies(results):
        raise TestFailure("a no-permanent-store message was archived")
    # private messages and presence are not archived
    b.send("<message to='%s/alice' type='chat'><body>private</body></message>" % room)
    await a.wait(lambda s: s.findtext(C("body")) == "private")
    results, _ = await mam_query(b, room)
    if "private" in bodies(results):
        raise TestFailure("a private message was archived")


async def test_paging_both_directions(srv):
    a, room = await logged_room(srv)
    for i in range(12):
        await say(a, room, "p%d" % i)
    # forward, 5 at a time
    seen, after = [], None
    for _ in range(5):
        rsm = "<max>5</max>" + ("<after>%s</after>" % after if after else "")
        results, fin = await mam_query(a, room, rsm=rsm)
        seen += bodies(results)
        after = rsm_text(fin, "last")
        if fin.get("complete") == "true":
            break
    if seen != ["p%d" % i for i in range(12)]:
        raise TestFailure("forward paging: %s" % seen)
    # backward from the end
    seen, before = [], ""
    for _ in range(5):
        rsm = "<max>5</max>" + ("<before>%s</before>" % before if before else "<before/>")
        results, fin = await mam_query(a, room, rsm=rsm)
        seen = bodies(results) + seen
        before = rsm_text(fin, "first")
        if fin.get("complete") == "true":
            break
    if seen != ["p%d" % i for i in range(12)]:
        raise TestFailure("backward paging: %s" % seen)
    results, fin = await mam_query(a, room, rsm="<max>3</max><before/>", extra="<flip-page/>")
    if bodies(results) != ["p11", "p10", "p9"]:
        raise TestFailure("flip-page: %s" % bodies(results))


async def test_access_rules(srv):
    a, room = await logged_room(srv, {"muc#roomconfig_membersonly": "1"})
    b, c, d = await occupant(srv), await occupant(srv), await occupant(srv)
    await say(a, room, "secret")
    # §5.1.2: a non-member of a members-only room may not read it
    await mam_query(b, room, expect="forbidden")
    await admin(a, room, "<item jid='%s' affiliation='member'/>" % b.bare)
    results, _ = await mam_query(b, room)  # a member need not be in the room
    if bodies(results) != ["secret"]:
        raise TestFailure("member's query: %s" % bodies(results))
    # banned
    o, open_room = await logged_room(srv)
    await admin(o, open_room, "<item jid='%s' affiliation='outcast'/>" % c.bare)
    await mam_query(c, open_room, expect="forbidden")
    # an open room without a password: anyone not banned
    await mam_query(d, open_room)


async def test_no_logging_no_archive(srv):
    a, room = await logged_room(srv, {"muc#roomconfig_enablelogging": "0"})
    await say(a, room, "not kept")
    if NS_MAM in await features(a, room):
        raise TestFailure("a room without logging advertises urn:xmpp:mam:2")
    await mam_query(a, room, expect="service-unavailable")
    # a temporary room is never archived (its name can be taken again)
    temp = new_room(srv)
    await create(a, temp, "alice")
    if NS_MAM in await features(a, temp):
        raise TestFailure("a temporary room advertises urn:xmpp:mam:2")
    await mam_query(a, temp, expect="service-unavailable")
    # logging switched on later: 170 to the occupants, then archived
    a.forget()
    await configure(a, room, {"muc#roomconfig_enablelogging": "1"})
    note = await a.wait(lambda s: s.tag == C("message") and s.get("from") == room and
                        170 in codes(s), what="status 170")
    if 104 not in codes(note):
        raise TestFailure("§10.2.1 notice: %s" % show(note))
    await say(a, room, "kept")
    results, _ = await mam_query(a, room)
    if bodies(results) != ["kept"]:
        raise TestFailure("after enabling logging: %s" % bodies(results))
    await configure(a, room, {"muc#roomconfig_enablelogging": "0"})
    await a.wait(lambda s: s.tag == C("message") and s.get("from") == room and 171 in codes(s),
                 what="status 171")


async def test_bad_queries(srv):
    a, room = await logged_room(srv)
    await say(a, room, "x")
    await mam_query(a, room, mam_form({"bogus": "1"}), expect="feature-not-implemented")
    await mam_query(a, room, rsm="<after>nosuchid</after>", expect="item-not-found")
    await mam_query(a, room, mam_form({"start": "yesterday"}), expect="bad-request")
    await mam_query(a, room, rsm="<max>-1</max>", expect="bad-request")


async def test_archive_survives_restart(srv):
    a, room = await logged_room(srv)
    sid = await say(a, room, "before restart")
    a.close()
    await asyncio.sleep(0.3)
    srv.restart()
    b = await occupant(srv)
    results, _ = await mam_query(b, room)
    if [(i, m.findtext("{%s}body" % NS_CLIENT)) for i, m in results] != [(sid, "before restart")]:
        raise TestFailure("after restart: %s" % [(i, show(m)) for i, m in results])


async def test_destroyed_room_archive_goes(srv):
    a, room = await logged_room(srv)
    await say(a, room, "before the end")
    results, _ = await mam_query(a, room)
    if bodies(results) != ["before the end"]:
        raise TestFailure("archive before destroying: %s" % bodies(results))
    reply = await a.iq("<query xmlns='http://jabber.org/protocol/muc#owner'><destroy/></query>",
                       type="set", to=room)
    if reply.get("type") != "result":
        raise TestFailure("destroy: %s" % show(reply))
    # the same name again, logged: nothing of the old room's history
    await create(a, room, "alice", dict(PERSISTENT))
    results, fin = await mam_query(a, room)
    if bodies(results):
        raise TestFailure("a new room of the same name shows the old archive: %s"
                          % bodies(results))


run_tests([
    test_archive_query_and_ids,
    test_destroyed_room_archive_goes,
    test_paging_both_directions,
    test_access_rules,
    test_no_logging_no_archive,
    test_bad_queries,
    test_archive_survives_restart,
], srv=Server())
