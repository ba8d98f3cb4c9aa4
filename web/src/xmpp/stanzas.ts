// Stanza handling: received stanzas become plain events the state layer
// applies; outgoing stanzas are built here. Both sides are pure functions of
// their inputs so the unit tests can drive them with literal XML.
import { bare } from './jid';
import { formParse, formBuild, type DataForm } from './forms';
import { labelElement, labelFromStanza, type SecurityLabel } from './labels';
import { NS } from './ns';
import { attr, child, childNs, childText, children, el, name, nsOf, text } from './xml';

export const MAX_BODY = 64 * 1024; // display bound; the server bounds stanzas too
export const MAX_REACTIONS = 32;
export const MAX_THREAD_ID = 256; // longer thread ids are ignored (hostile input)

export type ChatState = 'active' | 'composing' | 'paused' | 'inactive' | 'gone';

export interface MessageEvent {
  kind: 'message';
  from: string; // full JID (room@service/nick for groupchat)
  to: string;
  type: string; // chat | groupchat | normal | headline | error
  id: string; // the stanza id attribute
  originId: string | null; // XEP-0359 origin-id
  stanzaId: string | null; // XEP-0359 stanza-id from the archive/room
  body: string | null;
  subject: string | null;
  thread: string | null; // XEP-0201
  threadParent: string | null; // XEP-0201 §3.3: the thread this one branched from
  stamp: number | null; // XEP-0203 delay, ms
  receiptRequest: boolean; // XEP-0184
  receiptFor: string | null;
  markable: boolean; // XEP-0333
  displayedFor: string | null;
  chatState: ChatState | null; // XEP-0085
  replaceId: string | null; // XEP-0308
  retractId: string | null; // XEP-0424
  replyTo: { id: string; to: string | null } | null; // XEP-0461
  reactions: { id: string; emojis: string[] } | null; // XEP-0444
  oobUrl: string | null; // XEP-0066
  label: SecurityLabel | null; // XEP-0258
  form: DataForm | null; // XEP-0004
  invite: { room: string; from: string; reason: string; password: string | null } | null;
  forwarded: MessageEvent | null; // XEP-0297 (a forwarded message shown inline)
  error: StanzaError | null;
  carbon: 'sent' | 'received' | null; // XEP-0280
  mamQueryId: string | null; // XEP-0313 result
}

export interface StanzaError {
  type: string;
  condition: string;
  text: string;
}

const CHAT_STATES = new Set(['active', 'composing', 'paused', 'inactive', 'gone']);

export function errorParse(stanza: Element): StanzaError | null {
  const e = child(stanza, 'error');
  if (!e) return null;
  const cond = children(e).find((c) => nsOf(c) === NS.STANZAS && name(c) !== 'text');
  return {
    type: attr(e, 'type') || 'cancel',
    condition: cond ? name(cond) : 'undefined-condition',
    text: (childText(e, 'text', NS.STANZAS) || '').slice(0, 1000),
  };
}

// Strip the part of a body that XEP-0428 marks as fallback for `forNs`
// (reply quotes): the receiver that understands the element shows its own.
function stripFallback(stanza: Element, body: string, forNs: string): string {
  for (const fb of children(stanza, 'fallback', NS.FALLBACK)) {
    if (attr(fb, 'for') !== forNs) continue;
    const b = child(fb, 'body');
    if (!b) return '';
    const start = Number(attr(b, 'start') ?? 0);
    const end = Number(attr(b, 'end') ?? body.length);
    // Offsets are in Unicode code points (XEP-0426).
    const cps = Array.from(body);
    if (Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end <= cps.length && start <= end) {
      return (cps.slice(0, start).join('') + cps.slice(end).join(''));
    }
  }
  return body;
}

function hasFallbackFor(stanza: Element, forNs: string): boolean {
  return children(stanza, 'fallback', NS.FALLBACK).some((f) => attr(f, 'for') === forNs);
}

// XEP-0201: <thread parent='P'>T</thread>, both bounded; an empty or
// over-long id counts as no thread.
function threadParse(stanza: Element): { thread: string | null; parent: string | null } {
  const t = child(stanza, 'thread');
  const id = t ? text(t).trim() : '';
  if (!id || id.length > MAX_THREAD_ID) return { thread: null, parent: null };
  const parent = attr(t, 'parent');
  return { thread: id, parent: parent && parent.length <= MAX_THREAD_ID && parent !== id ? parent : null };
}

function delayStamp(e: Element | null): number | null {
  const d = e ? child(e, 'delay', NS.DELAY) : null;
  const s = attr(d, 'stamp');
  if (!s) return null;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : t;
}

export function messageParse(stanza: Element, depth = 0): MessageEvent {
  // Carbons (XEP-0280 §7) and archive results (XEP-0313 §4.2) wrap the real
  // message in <forwarded/>; unwrap once, keeping where it came from.
  if (depth === 0) {
    for (const which of ['sent', 'received'] as const) {
      const c = child(stanza, which, NS.CARBONS);
      const inner = child(child(c, 'forwarded', NS.FORWARD), 'message');
      if (c && inner) {
        const m = messageParse(inner, 1);
        m.carbon = which;
        return m;
      }
    }
    const r = child(stanza, 'result', NS.MAM);
    const fw = child(r, 'forwarded', NS.FORWARD);
    const inner = child(fw, 'message');
    if (r && inner) {
      const m = messageParse(inner, 1);
      m.mamQueryId = attr(r, 'queryid');
      m.stanzaId = attr(r, 'id');
      m.stamp = delayStamp(fw) ?? m.stamp;
      return m;
    }
  }
  let body = childText(stanza, 'body');
  const reply = child(stanza, 'reply', NS.REPLY);
  if (body !== null && reply) body = stripFallback(stanza, body, NS.REPLY);
  if (body !== null && body.length > MAX_BODY) body = body.slice(0, MAX_BODY);
  const cs = childNs(stanza, NS.CHATSTATES);
  const reactions = child(stanza, 'reactions', NS.REACTIONS);
  const muc = child(stanza, 'x', NS.MUC_USER);
  const mucInvite = child(muc, 'invite');
  const direct = child(stanza, 'x', NS.CONFERENCE);
  const stanzaIdEl = children(stanza, 'stanza-id', NS.SID)[0] || null;
  const fw = depth === 0 ? child(stanza, 'forwarded', NS.FORWARD) : null;
  const retract = child(stanza, 'retract', NS.RETRACT);
  let invite: MessageEvent['invite'] = null;
  if (mucInvite) {
    invite = { room: bare(attr(stanza, 'from') || ''), from: attr(mucInvite, 'from') || '',
      reason: childText(mucInvite, 'reason') || '', password: childText(muc, 'password') };
  } else if (direct) {
    invite = { room: bare(attr(direct, 'jid') || ''), from: attr(stanza, 'from') || '',
      reason: attr(direct, 'reason') || '', password: attr(direct, 'password') };
  }
  const type = attr(stanza, 'type') || 'normal';
  const fwInner = child(fw, 'message');
  const th = threadParse(stanza);
  return {
    kind: 'message',
    from: attr(stanza, 'from') || '',
    to: attr(stanza, 'to') || '',
    type,
    id: attr(stanza, 'id') || '',
    originId: attr(child(stanza, 'origin-id', NS.SID), 'id'),
    stanzaId: attr(stanzaIdEl, 'id'),
    body: retract && hasFallbackFor(stanza, NS.RETRACT) ? null : body,
    subject: childText(stanza, 'subject'),
    thread: th.thread,
    threadParent: th.parent,
    stamp: delayStamp(stanza),
    receiptRequest: !!child(stanza, 'request', NS.RECEIPTS),
    receiptFor: attr(child(stanza, 'received', NS.RECEIPTS), 'id'),
    markable: !!child(stanza, 'markable', NS.MARKERS),
    displayedFor: attr(child(stanza, 'displayed', NS.MARKERS), 'id'),
    chatState: cs && CHAT_STATES.has(name(cs)) ? (name(cs) as ChatState) : null,
    replaceId: attr(child(stanza, 'replace', NS.CORRECT), 'id'),
    retractId: attr(retract, 'id'),
    replyTo: reply && attr(reply, 'id') ? { id: attr(reply, 'id') as string, to: attr(reply, 'to') } : null,
    reactions: reactions && attr(reactions, 'id')
      ? { id: attr(reactions, 'id') as string,
          emojis: [...new Set(children(reactions, 'reaction').slice(0, MAX_REACTIONS).map((r) => text(r).trim()).filter((r) => r && r.length <= 32))] }
      : null,
    oobUrl: childText(child(stanza, 'x', NS.OOB), 'url'),
    label: labelFromStanza(stanza),
    form: formParse(child(stanza, 'x', NS.DATA)),
    invite,
    forwarded: fwInner ? { ...messageParse(fwInner, 1), stamp: delayStamp(fw) } : null,
    error: type === 'error' ? errorParse(stanza) : null,
    carbon: null,
    mamQueryId: null,
  };
}

// ---- presence ----------------------------------------------------------

export interface Occupant {
  nick: string;
  jid: string | null;
  role: string;
  affiliation: string;
}

export interface PresenceEvent {
  kind: 'presence';
  from: string;
  type: string; // '' = available, unavailable, subscribe, subscribed, unsubscribe, unsubscribed, error
  show: string; // '' | away | chat | dnd | xa
  status: string;
  priority: number;
  muc: { item: Occupant; codes: number[] } | null;
  error: StanzaError | null;
}

export function presenceParse(p: Element): PresenceEvent {
  const from = attr(p, 'from') || '';
  const x = child(p, 'x', NS.MUC_USER);
  let muc: PresenceEvent['muc'] = null;
  if (x) {
    const item = child(x, 'item');
    const slash = from.indexOf('/');
    muc = {
      item: {
        nick: slash < 0 ? '' : from.slice(slash + 1),
        jid: attr(item, 'jid'),
        role: attr(item, 'role') || 'none',
        affiliation: attr(item, 'affiliation') || 'none',
      },
      codes: children(x, 'status').slice(0, 20).map((s) => Number(attr(s, 'code'))).filter((n) => Number.isInteger(n)),
    };
  }
  const prio = Number(childText(p, 'priority') || 0);
  const type = attr(p, 'type') || '';
  return {
    kind: 'presence', from, type,
    show: childText(p, 'show') || '',
    status: (childText(p, 'status') || '').slice(0, 1000),
    priority: Number.isInteger(prio) ? prio : 0,
    muc,
    error: type === 'error' ? errorParse(p) : null,
  };
}

// ---- roster (RFC 6121 §2) ------------------------------------------------

export interface RosterItem {
  jid: string;
  name: string;
  subscription: 'none' | 'to' | 'from' | 'both' | 'remove';
  ask: boolean;
  groups: string[];
}

export function rosterParse(query: Element | null): RosterItem[] {
  if (!query) return [];
  return children(query, 'item').slice(0, 10000).map((it) => {
    const s = attr(it, 'subscription') || 'none';
    return {
      jid: bare(attr(it, 'jid') || ''),
      name: attr(it, 'name') || '',
      subscription: (['none', 'to', 'from', 'both', 'remove'].includes(s) ? s : 'none') as RosterItem['subscription'],
      ask: attr(it, 'ask') === 'subscribe',
      groups: children(it, 'group').slice(0, 50).map(text),
    };
  }).filter((i) => i.jid);
}

// ---- builders -------------------------------------------------------------

export interface OutgoingMessage {
  to: string;
  type: 'chat' | 'groupchat';
  id: string;
  body: string;
  label?: SecurityLabel | null;
  replaceId?: string | null;
  replyTo?: { id: string; to: string; quote: string } | null;
  thread?: string | null;
  threadParent?: string | null; // XEP-0201 §3.3
  oobUrl?: string | null;
}

// A chat or groupchat message with the markers a modern client sends:
// origin-id (XEP-0359), receipt request (1:1 only, XEP-0184 §5.4), markable,
// active chat state, and optional label, correction, reply, attachment.
export function messageBuild(m: OutgoingMessage): Element {
  let body = m.body;
  let fallback: Element | null = null;
  if (m.replyTo && m.replyTo.quote) {
    // XEP-0461 §2.2: a quoted fallback for clients without replies.
    const quote = m.replyTo.quote.split('\n').slice(0, 3).map((l) => '> ' + l).join('\n') + '\n';
    body = quote + body;
    fallback = el('fallback', { xmlns: NS.FALLBACK, for: NS.REPLY },
      el('body', { start: 0, end: Array.from(quote).length }));
  }
  return el('message', { to: m.to, type: m.type, id: m.id },
    el('body', {}, body),
    el('origin-id', { xmlns: NS.SID, id: m.id }),
    m.type === 'chat' && el('request', { xmlns: NS.RECEIPTS }),
    el('markable', { xmlns: NS.MARKERS }),
    el('active', { xmlns: NS.CHATSTATES }),
    m.thread ? el('thread', { parent: m.threadParent || undefined }, m.thread) : null,
    m.replaceId ? el('replace', { xmlns: NS.CORRECT, id: m.replaceId }) : null,
    m.replyTo ? el('reply', { xmlns: NS.REPLY, to: m.replyTo.to, id: m.replyTo.id }) : null,
    fallback,
    m.oobUrl ? el('x', { xmlns: NS.OOB }, el('url', {}, m.oobUrl)) : null,
    m.label ? labelElement(m.label) : null);
}

export function receiptBuild(to: string, forId: string, id: string): Element {
  return el('message', { to, id }, el('received', { xmlns: NS.RECEIPTS, id: forId }));
}

export function displayedBuild(to: string, type: string, forId: string, id: string): Element {
  return el('message', { to, type, id },
    el('displayed', { xmlns: NS.MARKERS, id: forId }), el('store', { xmlns: NS.HINTS }));
}

export function chatStateBuild(to: string, type: string, state: ChatState): Element {
  return el('message', { to, type }, el(state, { xmlns: NS.CHATSTATES }), el('no-store', { xmlns: NS.HINTS }));
}

export function retractBuild(to: string, type: string, targetId: string, id: string): Element {
  return el('message', { to, type, id },
    el('retract', { xmlns: NS.RETRACT, id: targetId }),
    el('fallback', { xmlns: NS.FALLBACK, for: NS.RETRACT }),
    el('body', {}, 'This person attempted to retract a previous message, but it\'s unsupported by your client.'),
    el('store', { xmlns: NS.HINTS }));
}

export function reactionsBuild(to: string, type: string, targetId: string, emojis: string[], id: string): Element {
  return el('message', { to, type, id },
    el('reactions', { xmlns: NS.REACTIONS, id: targetId }, emojis.map((e) => el('reaction', {}, e))),
    el('store', { xmlns: NS.HINTS }));
}

export function forwardBuild(to: string, type: 'chat' | 'groupchat', original: Element, stamp: Date, id: string, note: string): Element {
  return el('message', { to, type, id },
    el('body', {}, note),
    el('forwarded', { xmlns: NS.FORWARD }, el('delay', { xmlns: NS.DELAY, stamp: stamp.toISOString() }), original));
}

// XEP-0313 §4: a page of the archive with `with`, newest first via
// RSM <before/> (XEP-0059 §2.5) so infinite scroll loads backwards.
export function mamQueryBuild(opts: { id: string; queryId: string; archive?: string; with?: string; before?: string; max: number }): Element {
  const fields: Record<string, string> = {};
  if (opts.with) fields.with = opts.with;
  return el('iq', { type: 'set', id: opts.id, to: opts.archive },
    el('query', { xmlns: NS.MAM, queryid: opts.queryId },
      formBuild(NS.MAM, fields),
      el('set', { xmlns: NS.RSM }, el('max', {}, String(opts.max)), el('before', {}, opts.before || ''))));
}

export interface MamFin {
  complete: boolean;
  first: string | null;
  last: string | null;
}

export function mamFinParse(iq: Element): MamFin | null {
  const fin = child(iq, 'fin', NS.MAM);
  if (!fin) return null;
  const set = child(fin, 'set', NS.RSM);
  return { complete: attr(fin, 'complete') === 'true', first: childText(set, 'first'), last: childText(set, 'last') };
}

export function catalogQueryBuild(server: string, target: string, id: string): Element {
  return el('iq', { type: 'get', to: server, id }, el('catalog', { xmlns: NS.SECLABEL_CATALOG, to: target }));
}

// A labelled file's label goes INSIDE <request/>: an IQ get has exactly
// one child (RFC 6120 §8.2.3), and the server stores it with the slot and
// serves the file only to readers cleared for it (docs/modules/upload.md).
export function uploadSlotBuild(service: string, file: { name: string; size: number; type: string }, id: string,
  label: SecurityLabel | null = null): Element {
  const request = el('request', { xmlns: NS.UPLOAD, filename: file.name.slice(0, 255), size: file.size, 'content-type': file.type || 'application/octet-stream' });
  if (label) request.appendChild(labelElement(label));
  return el('iq', { type: 'get', to: service, id }, request);
}

// A download token for labelled files (urn:aldis:upload:auth:0).
export function uploadTokenBuild(service: string, id: string): Element {
  return el('iq', { type: 'get', to: service, id }, el('token', { xmlns: NS.UPLOAD_AUTH }));
}

// The token from the answer, with its expiry (ms since the epoch; NaN when
// absent or unreadable). Tokens are opaque: bounded, no whitespace (they go
// into an HTTP header).
export function uploadTokenParse(iq: Element): { value: string; expires: number } | null {
  const t = child(iq, 'token', NS.UPLOAD_AUTH);
  const value = (t ? text(t) : '').trim();
  if (!value || value.length > 4096 || !/^[\x21-\x7e]+$/.test(value)) return null;
  return { value, expires: Date.parse(attr(t, 'expires') || '') };
}

export interface UploadSlot {
  put: string;
  get: string;
  headers: Record<string, string>;
}

// XEP-0363 §5: only Authorization, Cookie and Expires may be copied onto
// the PUT; anything else from the server is dropped.
export function uploadSlotParse(iq: Element): UploadSlot | null {
  const slot = child(iq, 'slot', NS.UPLOAD);
  const put = child(slot, 'put');
  const get = child(slot, 'get');
  const putUrl = attr(put, 'url');
  const getUrl = attr(get, 'url');
  if (!putUrl || !getUrl || !/^https?:/.test(putUrl) || !/^https?:/.test(getUrl)) return null;
  const headers: Record<string, string> = {};
  for (const h of children(put!, 'header')) {
    const n = attr(h, 'name') || '';
    const v = text(h).replace(/[\r\n]/g, '');
    if (['authorization', 'cookie', 'expires'].includes(n.toLowerCase())) headers[n] = v;
  }
  return { put: putUrl, get: getUrl, headers };
}

// ---- disco (XEP-0030) -------------------------------------------------------

export interface DiscoInfo {
  identities: { category: string; type: string; name: string }[];
  features: string[];
  forms: DataForm[];
}

export function discoInfoParse(iq: Element): DiscoInfo {
  const q = child(iq, 'query', NS.DISCO_INFO);
  return {
    identities: q ? children(q, 'identity').slice(0, 100).map((i) => ({
      category: attr(i, 'category') || '', type: attr(i, 'type') || '', name: attr(i, 'name') || '' })) : [],
    features: q ? children(q, 'feature').slice(0, 1000).map((f) => attr(f, 'var') || '') : [],
    forms: q ? children(q, 'x', NS.DATA).slice(0, 10).map((x) => formParse(x)!).filter(Boolean) : [],
  };
}

export function discoItemsParse(iq: Element): { jid: string; name: string; node: string }[] {
  const q = child(iq, 'query', NS.DISCO_ITEMS);
  return q ? children(q, 'item').slice(0, 1000).map((i) => ({
    jid: attr(i, 'jid') || '', name: attr(i, 'name') || '', node: attr(i, 'node') || '' })) : [];
}

// ---- bookmarks (XEP-0402) ----------------------------------------------------

export interface Bookmark {
  jid: string;
  name: string;
  autojoin: boolean;
  nick: string;
  password: string;
}

export function bookmarksParse(items: Element | null): Bookmark[] {
  if (!items) return [];
  return children(items, 'item').slice(0, 1000).map((it) => {
    const c = child(it, 'conference', NS.BOOKMARKS);
    const aj = attr(c, 'autojoin');
    return { jid: bare(attr(it, 'id') || ''), name: attr(c, 'name') || '', autojoin: aj === 'true' || aj === '1',
      nick: childText(c, 'nick') || '', password: childText(c, 'password') || '' };
  }).filter((b) => b.jid);
}

// XEP-0402 §3.2 with the publish-options of §3.3: private, persistent.
export function bookmarkPublishBuild(b: Bookmark, id: string): Element {
  return el('iq', { type: 'set', id },
    el('pubsub', { xmlns: NS.PUBSUB },
      el('publish', { node: NS.BOOKMARKS },
        el('item', { id: b.jid },
          el('conference', { xmlns: NS.BOOKMARKS, name: b.name || undefined, autojoin: b.autojoin ? 'true' : 'false' },
            b.nick ? el('nick', {}, b.nick) : null))),
      el('publish-options', {}, formBuild('http://jabber.org/protocol/pubsub#publish-options', {
        'pubsub#persist_items': 'true', 'pubsub#max_items': 'max',
        'pubsub#send_last_published_item': 'never', 'pubsub#access_model': 'whitelist' }))));
}

export function bookmarkRetractBuild(jid: string, id: string): Element {
  return el('iq', { type: 'set', id },
    el('pubsub', { xmlns: NS.PUBSUB }, el('retract', { node: NS.BOOKMARKS, notify: 'true' }, el('item', { id: jid }))));
}

// ---- MUC (XEP-0045) ------------------------------------------------------------

export function mucJoinBuild(roomNick: string, password: string | null, historyMax: number, label?: SecurityLabel | null): Element {
  return el('presence', { to: roomNick },
    el('x', { xmlns: NS.MUC }, el('history', { maxstanzas: historyMax }), password ? el('password', {}, password) : null),
    label ? labelElement(label) : null);
}

export function mucInviteBuild(room: string, invitee: string, reason: string, id: string): Element {
  return el('message', { to: room, id },
    el('x', { xmlns: NS.MUC_USER }, el('invite', { to: invitee }, reason ? el('reason', {}, reason) : null)));
}

// §9 and §8: set a role (kick = none, voice = participant/visitor) or an
// affiliation (ban = outcast, member, admin, owner).
export function mucAdminBuild(room: string, item: { nick?: string; jid?: string; role?: string; affiliation?: string }, reason: string, id: string): Element {
  return el('iq', { type: 'set', to: room, id },
    el('query', { xmlns: NS.MUC_ADMIN }, el('item', item, reason ? el('reason', {}, reason) : null)));
}

// ---- pinned room messages (urn:aldis:pin:0, docs/modules/muc.md) ----------------

export const MAX_PINS = 100; // more than any room keeps (the server's bound is 50)

export interface Pin {
  id: string; // the room's stanza-id of the message
  by: string; // nick of the moderator who pinned it
  at: number | null; // ms
}

// <pins><pin id by at/>...</pins>, from an IQ result or a room's
// announcement; null when the element is absent.
export function pinsParse(parent: Element | null): Pin[] | null {
  const list = child(parent, 'pins', NS.PIN);
  if (!list) return null;
  const seen = new Set<string>();
  const out: Pin[] = [];
  for (const p of children(list, 'pin').slice(0, MAX_PINS)) {
    const id = attr(p, 'id') || '';
    if (!id || id.length > 128 || seen.has(id)) continue;
    seen.add(id);
    const at = Date.parse(attr(p, 'at') || '');
    out.push({ id, by: (attr(p, 'by') || '').slice(0, 100), at: Number.isNaN(at) ? null : at });
  }
  return out;
}

export function pinsQueryBuild(room: string, id: string): Element {
  return el('iq', { type: 'get', to: room, id }, el('pins', { xmlns: NS.PIN }));
}

export function pinBuild(room: string, messageId: string, pin: boolean, id: string): Element {
  return el('iq', { type: 'set', to: room, id }, el(pin ? 'pin' : 'unpin', { xmlns: NS.PIN, id: messageId }));
}

// XEP-0313 §4.1.5: fetch given archive ids (pinned messages not loaded yet).
export function mamIdsQueryBuild(opts: { id: string; queryId: string; archive?: string; ids: string[] }): Element {
  return el('iq', { type: 'set', id: opts.id, to: opts.archive },
    el('query', { xmlns: NS.MAM, queryid: opts.queryId },
      el('x', { xmlns: NS.DATA, type: 'submit' },
        el('field', { var: 'FORM_TYPE', type: 'hidden' }, el('value', {}, NS.MAM)),
        el('field', { var: 'ids' }, opts.ids.slice(0, 50).map((i) => el('value', {}, i))))));
}

// ---- XEP-0223 private storage of preferences -----------------------------------

export function prefsPublishBuild(node: string, json: string, id: string): Element {
  return el('iq', { type: 'set', id },
    el('pubsub', { xmlns: NS.PUBSUB },
      el('publish', { node }, el('item', { id: 'current' }, el('prefs', { xmlns: node }, json))),
      el('publish-options', {}, formBuild('http://jabber.org/protocol/pubsub#publish-options', {
        'pubsub#persist_items': 'true', 'pubsub#access_model': 'whitelist' }))));
}

export function pubsubItemsBuild(node: string, id: string): Element {
  return el('iq', { type: 'get', id }, el('pubsub', { xmlns: NS.PUBSUB }, el('items', { node })));
}

export function pubsubItemsOf(iq: Element): Element | null {
  return child(child(iq, 'pubsub', NS.PUBSUB), 'items');
}

// A PEP notification (XEP-0060 §7.1.2.1): node and its items.
export function pubsubEventParse(m: Element): { node: string; items: Element; retracted: string[] } | null {
  const items = child(child(m, 'event', NS.PUBSUB_EVENT), 'items');
  if (!items) return null;
  return { node: attr(items, 'node') || '', items,
    retracted: children(items, 'retract').map((r) => attr(r, 'id') || '').filter(Boolean) };
}

// ---- avatars from vCard-temp (XEP-0054 PHOTO, as XEP-0153 clients use) ----

const MAX_PHOTO_B64 = 700 * 1024; // about 512 KB of image
const PHOTO_TYPES = /^image\/(png|jpeg|gif|webp)$/;

// A data: URI for the vCard's photo, or null. Only raster types the
// browser shows as images; SVG is refused (it can carry script).
export function vcardPhotoParse(iq: Element): string | null {
  const photo = child(child(iq, 'vCard', NS.VCARD), 'PHOTO');
  const type = (childText(photo, 'TYPE') || '').trim().toLowerCase();
  const b64 = (childText(photo, 'BINVAL') || '').replace(/\s+/g, '');
  if (!PHOTO_TYPES.test(type) || !b64 || b64.length > MAX_PHOTO_B64 || !/^[A-Za-z0-9+/]+=*$/.test(b64)) return null;
  return `data:${type};base64,${b64}`;
}

// Our vCard with PHOTO replaced, other fields kept.
export function vcardWithPhotoBuild(current: Element | null, type: string, b64: string, id: string): Element {
  const card = el('vCard', { xmlns: NS.VCARD });
  if (current) {
    for (const c of children(current)) if (name(c) !== 'PHOTO') card.appendChild(c.cloneNode(true));
  }
  card.appendChild(el('PHOTO', {}, el('TYPE', {}, type), el('BINVAL', {}, b64)));
  return el('iq', { type: 'set', id }, card);
}
