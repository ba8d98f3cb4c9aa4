// Unit tests: parsing and building stanzas (xmldom stands in for the browser DOM).
import { describe, expect, it } from 'vitest';
import { NS } from './ns';
import {
  bookmarkPublishBuild, bookmarksParse, mamFinParse, mamQueryBuild, messageBuild, messageParse, presenceParse,
  pubsubItemsOf, reactionsBuild, retractBuild, rosterParse, uploadSlotParse, discoInfoParse, errorParse,
  mamIdsQueryBuild, pinBuild, pinsParse, pinsQueryBuild,
} from './stanzas';
import { serialize, xmlParse, child, attr } from './xml';

const msg = (s: string) => messageParse(xmlParse(s));

describe('messageParse', () => {
  it('reads body, ids, receipts request, markable and chat state', () => {
    const m = msg(`<message xmlns='jabber:client' from='a@x/r' to='b@x' type='chat' id='m1'>
      <body>hi</body><origin-id xmlns='urn:xmpp:sid:0' id='o1'/><stanza-id xmlns='urn:xmpp:sid:0' id='s1' by='b@x'/>
      <request xmlns='urn:xmpp:receipts'/><markable xmlns='urn:xmpp:chat-markers:0'/>
      <active xmlns='http://jabber.org/protocol/chatstates'/></message>`);
    expect(m).toMatchObject({ body: 'hi', id: 'm1', originId: 'o1', stanzaId: 's1', receiptRequest: true, markable: true, chatState: 'active', type: 'chat' });
  });

  it('reads receipts, displayed markers, corrections, retractions and reactions', () => {
    expect(msg(`<message from='a@x/r'><received xmlns='urn:xmpp:receipts' id='m1'/></message>`).receiptFor).toBe('m1');
    expect(msg(`<message from='a@x/r'><displayed xmlns='urn:xmpp:chat-markers:0' id='m2'/></message>`).displayedFor).toBe('m2');
    const c = msg(`<message from='a@x/r' type='chat'><body>fixed</body><replace xmlns='urn:xmpp:message-correct:0' id='m1'/></message>`);
    expect(c.replaceId).toBe('m1');
    const r = msg(`<message from='a@x/r' type='chat'><retract xmlns='urn:xmpp:message-retract:1' id='m1'/><fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:message-retract:1'/><body>old client text</body></message>`);
    expect(r.retractId).toBe('m1');
    expect(r.body).toBeNull();
    const re = msg(`<message from='a@x/r' type='chat'><reactions xmlns='urn:xmpp:reactions:0' id='m1'><reaction>👍</reaction><reaction>👍</reaction><reaction>🎉</reaction></reactions></message>`);
    expect(re.reactions).toEqual({ id: 'm1', emojis: ['👍', '🎉'] });
  });

  it('strips the reply fallback quote (XEP-0461, XEP-0428 code points)', () => {
    const m = msg(`<message from='a@x/r' type='chat'><body>&gt; 😀 old\nnew text</body>
      <reply xmlns='urn:xmpp:reply:0' to='b@x/r' id='m0'/>
      <fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:reply:0'><body start='0' end='8'/></fallback></message>`);
    expect(m.replyTo).toEqual({ id: 'm0', to: 'b@x/r' });
    expect(m.body).toBe('new text');
  });

  it('unwraps carbons and archive results', () => {
    const carbon = msg(`<message from='me@x' to='me@x/web'><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>
      <message xmlns='jabber:client' from='me@x/phone' to='bob@x' type='chat' id='c1'><body>from phone</body></message></forwarded></sent></message>`);
    expect(carbon).toMatchObject({ carbon: 'sent', body: 'from phone', to: 'bob@x', id: 'c1' });
    const mam = msg(`<message to='me@x/web'><result xmlns='urn:xmpp:mam:2' queryid='q1' id='arch-9'><forwarded xmlns='urn:xmpp:forward:0'>
      <delay xmlns='urn:xmpp:delay' stamp='2026-01-02T03:04:05Z'/>
      <message xmlns='jabber:client' from='bob@x/r' to='me@x' type='chat' id='x1'><body>old</body></message></forwarded></result></message>`);
    expect(mam).toMatchObject({ mamQueryId: 'q1', stanzaId: 'arch-9', body: 'old', stamp: Date.parse('2026-01-02T03:04:05Z') });
  });

  it('reads labels, oob, invitations and errors', () => {
    const m = msg(`<message from='a@x/r' type='chat'><body>s</body>
      <securitylabel xmlns='urn:xmpp:sec-label:0'><displaymarking fgcolor='white' bgcolor='red'>SECRET</displaymarking><label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>MQ==</esssecuritylabel></label></securitylabel>
      <x xmlns='jabber:x:oob'><url>https://x/f.png</url></x></message>`);
    expect(m.label?.marking).toEqual({ text: 'SECRET', fg: 'white', bg: 'red' });
    expect(m.oobUrl).toBe('https://x/f.png');
    const inv = msg(`<message from='room@conf.x'><x xmlns='http://jabber.org/protocol/muc#user'><invite from='a@x/r'><reason>join us</reason></invite></x></message>`);
    expect(inv.invite).toMatchObject({ room: 'room@conf.x', from: 'a@x/r', reason: 'join us' });
    const err = msg(`<message from='b@x' type='error' id='m1'><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>label not permitted</text></error></message>`);
    expect(err.error).toEqual({ type: 'auth', condition: 'forbidden', text: 'label not permitted' });
  });

  it('bounds hostile input', () => {
    const many = Array.from({ length: 100 }, (_, i) => `<reaction>r${i}</reaction>`).join('');
    const m = msg(`<message from='a@x/r'><reactions xmlns='urn:xmpp:reactions:0' id='m'>${many}</reactions></message>`);
    expect(m.reactions!.emojis.length).toBeLessThanOrEqual(32);
    const big = msg(`<message from='a@x/r'><body>${'a'.repeat(70000)}</body></message>`);
    expect(big.body!.length).toBe(64 * 1024);
    // An unknown chat state element is not taken as a state.
    expect(msg(`<message from='a@x/r'><evil xmlns='http://jabber.org/protocol/chatstates'/></message>`).chatState).toBeNull();
  });
});

describe('builders', () => {
  it('builds a chat message with origin-id, receipt request, markable, label and reply fallback', () => {
    const label = { marking: { text: 'SECRET', fg: 'white', bg: 'red' }, xml: `<securitylabel xmlns='urn:xmpp:sec-label:0'><label/></securitylabel>` };
    const e = messageBuild({ to: 'b@x', type: 'chat', id: 'm9', body: 'yes', label, replyTo: { id: 'm0', to: 'b@x', quote: 'question?' } });
    const back = messageParse(xmlParse(serialize(e)));
    expect(back).toMatchObject({ to: 'b@x', id: 'm9', originId: 'm9', receiptRequest: true, markable: true, body: 'yes', replyTo: { id: 'm0', to: 'b@x' } });
    expect(serialize(e)).toContain('&gt; question?');
    expect(back.label).not.toBeNull();
    // Groupchat never asks for receipts (XEP-0184 §5.3).
    expect(messageParse(xmlParse(serialize(messageBuild({ to: 'r@c', type: 'groupchat', id: 'g', body: 'x' })))).receiptRequest).toBe(false);
  });

  it('round-trips retraction and reactions', () => {
    const r = messageParse(xmlParse(serialize(retractBuild('b@x', 'chat', 'm1', 'id'))));
    expect(r.retractId).toBe('m1');
    expect(r.body).toBeNull();
    const re = messageParse(xmlParse(serialize(reactionsBuild('b@x', 'chat', 'm1', ['👍'], 'id'))));
    expect(re.reactions).toEqual({ id: 'm1', emojis: ['👍'] });
  });

  it('builds a MAM query paging backwards and reads the fin', () => {
    const q = xmlParse(serialize(mamQueryBuild({ id: 'i', queryId: 'q', with: 'b@x', before: 'abc', max: 20 })));
    const query = child(q, 'query', NS.MAM)!;
    expect(attr(query, 'queryid')).toBe('q');
    expect(serialize(q)).toContain('<before>abc</before>');
    expect(serialize(q)).toContain('<max>20</max>');
    expect(serialize(q)).toContain('var="with"');
    const fin = mamFinParse(xmlParse(`<iq type='result'><fin xmlns='urn:xmpp:mam:2' complete='true'><set xmlns='http://jabber.org/protocol/rsm'><first>f</first><last>l</last></set></fin></iq>`));
    expect(fin).toEqual({ complete: true, first: 'f', last: 'l' });
  });

  it('publishes bookmarks privately and parses them back', () => {
    const e = serialize(bookmarkPublishBuild({ jid: 'r@c.x', name: 'Room', autojoin: true, nick: 'me', password: '' }, 'i'));
    expect(e).toContain('whitelist');
    expect(e).toContain('autojoin="true"');
    const items = pubsubItemsOf(xmlParse(`<iq type='result'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:bookmarks:1'>
      <item id='R@c.x'><conference xmlns='urn:xmpp:bookmarks:1' name='Room' autojoin='1'><nick>me</nick></conference></item></items></pubsub></iq>`));
    expect(bookmarksParse(items)).toEqual([{ jid: 'r@c.x', name: 'Room', autojoin: true, nick: 'me', password: '' }]);
  });
});

describe('other stanzas', () => {
  it('parses roster items and ignores junk', () => {
    const r = rosterParse(xmlParse(`<query xmlns='jabber:iq:roster'><item jid='A@x' name='A' subscription='both'><group>g</group></item>
      <item jid='b@x' subscription='bogus' ask='subscribe'/><item/></query>`));
    expect(r).toEqual([
      { jid: 'a@x', name: 'A', subscription: 'both', ask: false, groups: ['g'] },
      { jid: 'b@x', name: '', subscription: 'none', ask: true, groups: [] },
    ]);
  });

  it('parses MUC presence with status codes', () => {
    const p = presenceParse(xmlParse(`<presence from='r@c/me'><x xmlns='http://jabber.org/protocol/muc#user'>
      <item affiliation='owner' role='moderator' jid='me@x/web'/><status code='110'/><status code='201'/></x></presence>`));
    expect(p.muc).toEqual({ item: { nick: 'me', jid: 'me@x/web', role: 'moderator', affiliation: 'owner' }, codes: [110, 201] });
  });

  it('accepts only safe upload slot URLs and headers (XEP-0363 §5)', () => {
    const ok = uploadSlotParse(xmlParse(`<iq type='result'><slot xmlns='urn:xmpp:http:upload:0'>
      <put url='https://u/put'><header name='Authorization'>Bearer x</header><header name='X-Evil'>1</header></put><get url='https://u/get'/></slot></iq>`));
    expect(ok).toEqual({ put: 'https://u/put', get: 'https://u/get', headers: { Authorization: 'Bearer x' } });
    expect(uploadSlotParse(xmlParse(`<iq><slot xmlns='urn:xmpp:http:upload:0'><put url='javascript:alert(1)'/><get url='https://u'/></slot></iq>`))).toBeNull();
  });

  it('reads disco info with forms and errors', () => {
    const d = discoInfoParse(xmlParse(`<iq type='result'><query xmlns='http://jabber.org/protocol/disco#info'><identity category='store' type='file' name='Upload'/>
      <feature var='urn:xmpp:http:upload:0'/><x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:http:upload:0</value></field>
      <field var='max-file-size'><value>1000</value></field></x></query></iq>`));
    expect(d.features).toContain(NS.UPLOAD);
    expect(d.forms[0].fields[1].values).toEqual(['1000']);
    expect(errorParse(xmlParse(`<iq type='error'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`))?.condition).toBe('item-not-found');
  });
});

describe('vCard avatars', () => {
  it('accepts raster photos only, bounded', async () => {
    const { vcardPhotoParse, vcardWithPhotoBuild } = await import('./stanzas');
    const card = (type: string, b64: string) => xmlParse(`<iq type='result'><vCard xmlns='vcard-temp'><FN>A</FN><PHOTO><TYPE>${type}</TYPE><BINVAL>${b64}</BINVAL></PHOTO></vCard></iq>`);
    expect(vcardPhotoParse(card('image/png', 'iVBO\nRw0K'))).toBe('data:image/png;base64,iVBORw0K');
    expect(vcardPhotoParse(card('image/svg+xml', 'PHN2Zz4='))).toBeNull();
    expect(vcardPhotoParse(card('image/png', 'not base64!'))).toBeNull();
    expect(vcardPhotoParse(card('image/png', 'A'.repeat(800 * 1024)))).toBeNull();
    const set = serialize(vcardWithPhotoBuild(child(card('image/png', 'AAAA'), 'vCard', NS.VCARD), 'image/jpeg', 'BBBB', 'i'));
    expect(set).toContain('<FN>A</FN>');
    expect(set).toContain('<BINVAL>BBBB</BINVAL>');
    expect(set).not.toContain('AAAA');
  });
});

describe('pins (urn:aldis:pin:0)', () => {
  it('reads a list from an IQ result or an announcement, bounded and deduplicated', () => {
    const iq = xmlParse(`<iq type='result'><pins xmlns='urn:aldis:pin:0'><pin id='a' by='alice' at='2026-11-26T01:00:00Z'/>
      <pin id='a' by='x'/><pin by='nobody'/><pin id='${'z'.repeat(200)}'/><pin id='b' by='bob' at='junk'/></pins></iq>`);
    expect(pinsParse(iq)).toEqual([{ id: 'a', by: 'alice', at: Date.parse('2026-11-26T01:00:00Z') }, { id: 'b', by: 'bob', at: null }]);
    const ann = xmlParse(`<message from='r@muc' type='groupchat'><pins xmlns='urn:aldis:pin:0'/><no-store xmlns='urn:xmpp:hints'/></message>`);
    expect(pinsParse(ann)).toEqual([]);
    expect(pinsParse(xmlParse(`<message><body>x</body></message>`))).toBeNull();
    expect(pinsParse(xmlParse(`<message><pins xmlns='urn:other'/></message>`))).toBeNull();
  });

  it('builds get, pin, unpin and the archive fetch by ids', () => {
    expect(serialize(pinsQueryBuild('r@muc', 'i1'))).toBe(`<iq type="get" to="r@muc" id="i1"><pins xmlns="urn:aldis:pin:0"/></iq>`);
    expect(serialize(pinBuild('r@muc', 'S1', true, 'i2'))).toBe(`<iq type="set" to="r@muc" id="i2"><pin xmlns="urn:aldis:pin:0" id="S1"/></iq>`);
    expect(serialize(pinBuild('r@muc', 'S1', false, 'i3'))).toContain(`<unpin xmlns="urn:aldis:pin:0" id="S1"/>`);
    const q = mamIdsQueryBuild({ id: 'i4', queryId: 'q', archive: 'r@muc', ids: ['S1', 'S2'] });
    const x = child(child(q, 'query', NS.MAM), 'x', NS.DATA)!;
    const ids = Array.from(x.getElementsByTagName('field')).find((f) => attr(f, 'var') === 'ids')!;
    expect(Array.from(ids.getElementsByTagName('value')).map((v) => v.textContent)).toEqual(['S1', 'S2']);
  });
});
