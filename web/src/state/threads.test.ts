// Unit tests: thread grouping (XEP-0201) and what a reply in a thread sends.
import { describe, expect, it } from 'vitest';
import { conversationAddOwn, conversationApply, conversationNew, type ApplyContext, type Conversation } from './chat';
import { threadIndex, threadReplyCount, threadRootOf, threadTarget } from './threads';
import { messageBuild, messageParse } from '../xmpp/stanzas';
import { attr, child, text, xmlParse } from '../xmpp/xml';

const ctx: ApplyContext = { me: 'me@x', myNick: 'me', active: true, fromArchive: false, now: 1000 };
const ev = (s: string) => messageParse(xmlParse(s));
let clock = 0;

// A groupchat message from `nick` with the room's stanza-id `sid`.
function room(c: Conversation, nick: string, sid: string, body: string, extra = ''): Conversation {
  clock += 1000;
  return conversationApply(c, ev(`<message from='r@muc/${nick}' type='groupchat' id='${sid}-o'><body>${body}</body>
    <stanza-id xmlns='urn:xmpp:sid:0' id='${sid}' by='r@muc'/>${extra}</message>`), { ...ctx, now: clock });
}
const inThread = (t: string, root: string, parent = '') =>
  `<thread${parent ? ` parent='${parent}'` : ''}>${t}</thread><reply xmlns='urn:xmpp:reply:0' id='${root}'/>`;

describe('threadIndex', () => {
  it('groups a side thread under its root and hides it from the timeline', () => {
    let c = conversationNew('r@muc', 'room');
    c = room(c, 'alice', 'S1', 'root question');
    c = room(c, 'bob', 'S2', 'unrelated');
    c = room(c, 'carol', 'S3', 'first answer', inThread('T1', 'S1'));
    c = room(c, 'alice', 'S4', 'second answer', inThread('T1', 'S1'));
    const idx = threadIndex(c);
    const t = idx.byRoot.get('S1')!;
    expect(t.root.body).toBe('root question');
    expect(t.threadId).toBe('T1');
    expect(t.parent).toBeNull();
    expect(t.replies.map((m) => m.body)).toEqual(['first answer', 'second answer']);
    expect(threadReplyCount(t)).toBe(2);
    expect(c.messages.filter((m) => !idx.inThread.has(m.id)).map((m) => m.body)).toEqual(['root question', 'unrelated']);
    // any message of the thread leads back to its root
    expect(threadRootOf(c, idx, t.replies[1])).toBe('S1');
    expect(threadRootOf(c, idx, c.messages[1])).toBe('S2');
  });

  it('keeps a session thread without a root in the timeline', () => {
    let c = conversationNew('bob@x', 'chat');
    c = conversationApply(c, ev(`<message from='bob@x/r' type='chat' id='a'><body>one</body><thread>SESSION</thread></message>`), ctx);
    c = conversationApply(c, ev(`<message from='bob@x/r' type='chat' id='b'><body>two</body><thread>SESSION</thread></message>`), { ...ctx, now: 2000 });
    const idx = threadIndex(c);
    expect(idx.byRoot.size).toBe(0);
    expect(idx.inThread.size).toBe(0);
  });

  it('a plain reply (no thread) is not a thread; retracted replies are not counted', () => {
    let c = conversationNew('r@muc', 'room');
    c = room(c, 'alice', 'S1', 'root');
    c = room(c, 'bob', 'S2', 'inline reply', `<reply xmlns='urn:xmpp:reply:0' id='S1'/>`);
    expect(threadIndex(c).byRoot.size).toBe(0);
    c = room(c, 'bob', 'S3', 'in thread', inThread('T', 'S1'));
    c = room(c, 'carol', 'S4', 'oops', inThread('T', 'S1'));
    c = conversationApply(c, ev(`<message from='r@muc/carol' type='groupchat'><retract xmlns='urn:xmpp:message-retract:1' id='S4'/></message>`), ctx);
    expect(threadReplyCount(threadIndex(c).byRoot.get('S1'))).toBe(1);
  });

  it('a thread started from a thread message joins the outer root', () => {
    let c = conversationNew('r@muc', 'room');
    c = room(c, 'alice', 'S1', 'root');
    c = room(c, 'bob', 'S2', 'in T1', inThread('T1', 'S1'));
    c = room(c, 'carol', 'S3', 'branch', inThread('T2', 'S2', 'T1'));
    const idx = threadIndex(c);
    expect(idx.byRoot.size).toBe(1);
    expect(idx.byRoot.get('S1')!.replies.map((m) => m.body)).toEqual(['in T1', 'branch']);
  });

  it('replies whose root is not loaded stay visible in the timeline', () => {
    let c = conversationNew('r@muc', 'room');
    c = room(c, 'bob', 'S9', 'answer to an old message', inThread('T', 'OLD'));
    const idx = threadIndex(c);
    expect(idx.inThread.size).toBe(0);
  });
});

describe('threadTarget', () => {
  it('a new thread gets a new id with the root\'s thread as parent; replies reuse the id', () => {
    let c = conversationNew('bob@x', 'chat');
    c = conversationApply(c, ev(`<message from='bob@x/r' type='chat' id='root'><body>root</body><thread>SESSION</thread></message>`), ctx);
    let ids = 0;
    const fresh = () => `NEW${++ids}`;
    const t1 = threadTarget(c, threadIndex(c), 'root', fresh)!;
    expect(t1).toMatchObject({ rootRef: 'root', thread: 'NEW1', parent: 'SESSION' });
    // what goes on the wire (XEP-0201 §3.3 parent; XEP-0461 reply to the root)
    const out = messageBuild({ to: 'bob@x', type: 'chat', id: 'm1', body: 'first', thread: t1.thread, threadParent: t1.parent,
      replyTo: { id: t1.rootRef, to: 'bob@x', quote: '' } });
    const th = child(out, 'thread')!;
    expect(text(th)).toBe('NEW1');
    expect(attr(th, 'parent')).toBe('SESSION');
    expect(attr(child(out, 'reply', 'urn:xmpp:reply:0'), 'id')).toBe('root');
    expect(child(out, 'fallback')).toBeNull();
    // our copy, then the next message in the thread keeps its id
    c = conversationAddOwn(c, { id: 'm1', author: 'me@x', outgoing: true, body: 'first', stamp: 5000, replyTo: 'root', label: null,
      oobUrl: null, thread: t1.thread, threadParent: t1.parent });
    const idx = threadIndex(c);
    expect(idx.byRoot.get('root')!.replies.length).toBe(1);
    expect(threadTarget(c, idx, 'root', fresh)).toMatchObject({ thread: 'NEW1', parent: 'SESSION' });
    expect(ids).toBe(1);
  });

  it('a root without a thread gives a thread without parent; unknown roots give nothing', () => {
    let c = conversationNew('r@muc', 'room');
    c = room(c, 'alice', 'S1', 'root');
    expect(threadTarget(c, threadIndex(c), 'S1', () => 'N')).toMatchObject({ thread: 'N', parent: null, rootRef: 'S1' });
    expect(threadTarget(c, threadIndex(c), 'nope', () => 'N')).toBeNull();
  });

  it('parses the parent attribute and ignores hostile thread ids', () => {
    expect(ev(`<message type='chat'><thread parent='P'>T</thread></message>`)).toMatchObject({ thread: 'T', threadParent: 'P' });
    expect(ev(`<message type='chat'><thread>${'x'.repeat(300)}</thread></message>`).thread).toBeNull();
    expect(ev(`<message type='chat'><thread parent='T'>T</thread></message>`).threadParent).toBeNull();
  });
});
