// Unit tests: how message events change a conversation.
import { describe, expect, it } from 'vitest';
import { conversationAddOwn, conversationApply, conversationNew, conversationSearch, markerTarget, reactionsToggle, type ApplyContext } from './chat';
import { messageParse } from '../xmpp/stanzas';
import { xmlParse } from '../xmpp/xml';

const ctx: ApplyContext = { me: 'me@x', myNick: null, active: false, fromArchive: false, now: 1000 };
const ev = (s: string) => messageParse(xmlParse(s));

function withOwn() {
  return conversationAddOwn(conversationNew('bob@x', 'chat'), { id: 'm1', author: 'me@x', outgoing: true, body: 'hello', stamp: 1, replyTo: null, label: null, oobUrl: null, thread: null });
}

describe('conversationApply', () => {
  it('counts unread only when not looking, and dedupes archive copies', () => {
    let c = conversationNew('bob@x', 'chat');
    c = conversationApply(c, ev(`<message from='bob@x/r' type='chat' id='b1'><body>hi</body></message>`), ctx);
    expect(c.unread).toBe(1);
    c = conversationApply(c, ev(`<message from='bob@x/r' type='chat' id='b2'><body>there</body></message>`), { ...ctx, active: true });
    expect(c.unread).toBe(1);
    const arch = ev(`<message><result xmlns='urn:xmpp:mam:2' queryid='q' id='A1'><forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' stamp='2026-01-01T00:00:00Z'/><message xmlns='jabber:client' from='bob@x/r' type='chat' id='b1'><body>hi</body></message></forwarded></result></message>`);
    c = conversationApply(c, arch, { ...ctx, fromArchive: true });
    expect(c.messages.length).toBe(2);
    expect(c.messages[0].stanzaId).toBe('A1');
  });

  it('orders archive pages before live messages', () => {
    let c = conversationNew('bob@x', 'chat');
    c = conversationApply(c, ev(`<message from='bob@x/r' type='chat' id='new'><body>new</body></message>`), { ...ctx, now: Date.parse('2026-02-01T00:00:00Z') });
    c = conversationApply(c, ev(`<message><result xmlns='urn:xmpp:mam:2' queryid='q' id='A0'><forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' stamp='2026-01-01T00:00:00Z'/><message xmlns='jabber:client' from='bob@x/r' type='chat' id='old'><body>old</body></message></forwarded></result></message>`), { ...ctx, fromArchive: true });
    expect(c.messages.map((m) => m.body)).toEqual(['old', 'new']);
    expect(c.unread).toBe(1);
  });

  it('marks receipts, then displayed up to the marker', () => {
    let c = withOwn();
    c = conversationAddOwn(c, { id: 'm2', author: 'me@x', outgoing: true, body: 'again', stamp: 2, replyTo: null, label: null, oobUrl: null, thread: null });
    c = conversationApply(c, ev(`<message from='bob@x/r'><received xmlns='urn:xmpp:receipts' id='m1'/></message>`), ctx);
    expect(c.messages.map((m) => m.delivery)).toEqual(['received', 'sending']);
    c = conversationApply(c, ev(`<message from='bob@x/r' type='chat'><displayed xmlns='urn:xmpp:chat-markers:0' id='m2'/></message>`), ctx);
    expect(c.messages.map((m) => m.delivery)).toEqual(['displayed', 'displayed']);
  });

  it('applies corrections only from the author', () => {
    let c = withOwn();
    c = conversationApply(c, ev(`<message from='bob@x/r' type='chat' id='b'><body>evil</body><replace xmlns='urn:xmpp:message-correct:0' id='m1'/></message>`), ctx);
    expect(c.messages[0].body).toBe('hello');
    c = conversationApply(c, ev(`<message from='me@x/phone' type='chat' id='c'><body>hello!</body><replace xmlns='urn:xmpp:message-correct:0' id='m1'/></message>`), ctx);
    expect(c.messages[0]).toMatchObject({ body: 'hello!', edited: true });
  });

  it('applies retractions only from the author', () => {
    let c = withOwn();
    c = conversationApply(c, ev(`<message from='bob@x/r' type='chat'><retract xmlns='urn:xmpp:message-retract:1' id='m1'/></message>`), ctx);
    expect(c.messages[0].retracted).toBe(false);
    c = conversationApply(c, ev(`<message from='me@x/phone' type='chat'><retract xmlns='urn:xmpp:message-retract:1' id='m1'/></message>`), ctx);
    expect(c.messages[0]).toMatchObject({ retracted: true, body: '' });
  });

  it('replaces an author\'s reactions as a set (XEP-0444 §3.2)', () => {
    let c = withOwn();
    c = conversationApply(c, ev(`<message from='bob@x/r' type='chat'><reactions xmlns='urn:xmpp:reactions:0' id='m1'><reaction>👍</reaction><reaction>🎉</reaction></reactions></message>`), ctx);
    expect(c.messages[0].reactions).toEqual({ '👍': ['bob@x'], '🎉': ['bob@x'] });
    c = conversationApply(c, ev(`<message from='bob@x/r' type='chat'><reactions xmlns='urn:xmpp:reactions:0' id='m1'><reaction>🎉</reaction></reactions></message>`), ctx);
    expect(c.messages[0].reactions).toEqual({ '🎉': ['bob@x'] });
    expect(reactionsToggle(c.messages[0], 'me@x', '👍')).toEqual(['👍']);
  });

  it('shows refusals (label policy) on the message that was refused', () => {
    let c = withOwn();
    c = conversationApply(c, ev(`<message from='bob@x' type='error' id='m1'><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>recipient not cleared for SECRET</text></error></message>`), ctx);
    expect(c.messages[0]).toMatchObject({ delivery: 'error', error: 'recipient not cleared for SECRET' });
  });

  it('tracks typing and clears it on a message', () => {
    let c = conversationNew('bob@x', 'chat');
    c = conversationApply(c, ev(`<message from='bob@x/r' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`), ctx);
    expect(c.typing).toEqual({ 'bob@x': 'composing' });
    c = conversationApply(c, ev(`<message from='bob@x/r' type='chat' id='z'><body>done</body></message>`), ctx);
    expect(c.typing).toEqual({});
  });

  it('in rooms: authors are nicks, our reflection is deduplicated, subject kept', () => {
    const rctx = { ...ctx, myNick: 'me' };
    let c = conversationAddOwn(conversationNew('r@c', 'room'), { id: 'g1', author: 'me', outgoing: true, body: 'hi room', stamp: 1, replyTo: null, label: null, oobUrl: null, thread: null });
    c = conversationApply(c, ev(`<message from='r@c/me' type='groupchat' id='g1'><body>hi room</body><stanza-id xmlns='urn:xmpp:sid:0' id='RS1' by='r@c'/><origin-id xmlns='urn:xmpp:sid:0' id='g1'/></message>`), rctx);
    expect(c.messages.length).toBe(1);
    expect(c.messages[0]).toMatchObject({ stanzaId: 'RS1', delivery: 'sent' });
    c = conversationApply(c, ev(`<message from='r@c/ann' type='groupchat'><subject>Plans</subject></message>`), rctx);
    expect(c.subject).toBe('Plans');
    c = conversationApply(c, ev(`<message from='r@c/ann' type='groupchat' id='a'><body>yo</body></message>`), rctx);
    expect(c.messages[1]).toMatchObject({ author: 'ann', outgoing: false });
    expect(markerTarget(c)!.author).toBe('ann');
    expect(conversationSearch(c, 'YO').length).toBe(1);
  });

  it('private messages from a room occupant are authored by the nick', () => {
    let c = conversationNew('r@c/ann', 'chat');
    c = conversationApply(c, ev(`<message from='r@c/ann' type='chat' id='p1'><body>psst</body></message>`), ctx);
    expect(c.messages[0]).toMatchObject({ author: 'ann', outgoing: false, body: 'psst' });
  });
});
