// Conversation state: how received message events change what a chat shows.
// Pure: (conversation, event) -> new conversation, so every XEP rule here
// (corrections, retractions, reactions, receipts, markers, unread counts,
// deduplication of archive/live copies) is unit-tested without a server.
import { bare, resource } from '../xmpp/jid';
import type { DataForm } from '../xmpp/forms';
import type { SecurityLabel } from '../xmpp/labels';
import type { ChatState, MessageEvent } from '../xmpp/stanzas';

export const MAX_MESSAGES = 5000; // per conversation kept in memory

export type Delivery = 'sending' | 'sent' | 'received' | 'displayed' | 'error';

export interface ChatMessage {
  id: string; // stanza id (ours) / origin-id
  stanzaId: string | null; // server/room archive id
  author: string; // bare JID (1:1) or nick (room)
  outgoing: boolean;
  body: string;
  stamp: number;
  edited: boolean;
  retracted: boolean;
  delivery: Delivery;
  error: string | null;
  reactions: Record<string, string[]>; // emoji -> authors
  replyTo: string | null; // referenced message id
  label: SecurityLabel | null;
  oobUrl: string | null;
  form: DataForm | null;
  thread: string | null; // XEP-0201
  threadParent: string | null; // XEP-0201 §3.3
  forwarded: { author: string; body: string; stamp: number | null } | null;
  invite: MessageEvent['invite'];
}

export interface Conversation {
  jid: string; // bare JID of the contact or the room
  kind: 'chat' | 'room';
  messages: ChatMessage[];
  unread: number;
  lastRead: string | null; // id of the last message we marked displayed
  typing: Record<string, ChatState>; // who -> state
  mamComplete: boolean;
  mamOldest: string | null; // RSM id to page backwards from
  subject: string;
}

export interface ApplyContext {
  me: string; // our bare JID
  myNick: string | null; // in rooms
  active: boolean; // the conversation is on screen and the window focused
  fromArchive: boolean;
  now: number;
}

export function conversationNew(jid: string, kind: 'chat' | 'room'): Conversation {
  return { jid, kind, messages: [], unread: 0, lastRead: null, typing: {}, mamComplete: false, mamOldest: null, subject: '' };
}

// The id other clients use to point at a message: the room's stanza-id in
// groupchat (XEP-0461 §3, XEP-0444 §4.1), our origin/stanza id in 1:1.
export function messageRefId(c: Conversation, m: ChatMessage): string {
  return c.kind === 'room' ? (m.stanzaId || m.id) : m.id;
}

function findIndex(c: Conversation, ref: string): number {
  for (let i = c.messages.length - 1; i >= 0; i--) {
    const m = c.messages[i];
    if (m.id === ref || m.stanzaId === ref) return i;
  }
  return -1;
}

function replaceAt(c: Conversation, i: number, m: ChatMessage): Conversation {
  const messages = c.messages.slice();
  messages[i] = m;
  return { ...c, messages };
}

function authorOf(c: Conversation, ev: MessageEvent, ctx: ApplyContext): { author: string; outgoing: boolean } {
  if (c.kind === 'room') {
    const nick = resource(ev.from);
    return { author: nick, outgoing: ctx.myNick !== null && nick === ctx.myNick };
  }
  const from = bare(ev.from || ctx.me);
  if (from === ctx.me) return { author: from, outgoing: true };
  // A private chat with a room occupant: the author is the nick.
  if (c.jid.includes('/')) return { author: resource(ev.from) || from, outgoing: false };
  return { author: from, outgoing: false };
}

// Insert keeping time order: archive pages arrive older than what we show.
function insertSorted(list: ChatMessage[], m: ChatMessage): ChatMessage[] {
  const out = list.slice();
  let i = out.length;
  while (i > 0 && out[i - 1].stamp > m.stamp) i--;
  out.splice(i, 0, m);
  if (out.length > MAX_MESSAGES) out.splice(0, out.length - MAX_MESSAGES);
  return out;
}

export function conversationApply(c: Conversation, ev: MessageEvent, ctx: ApplyContext): Conversation {
  const who = authorOf(c, ev, ctx);

  // An error bounced back for something we sent (refusals by the label
  // policy arrive here: XEP-0258 §5 / RFC 6120 §8.3).
  if (ev.type === 'error') {
    const i = findIndex(c, ev.id);
    if (i < 0) return c;
    const e = ev.error;
    const why = e ? (e.text || e.condition.replace(/-/g, ' ')) : 'error';
    return replaceAt(c, i, { ...c.messages[i], delivery: 'error', error: why });
  }

  if (ev.receiptFor) {
    const i = findIndex(c, ev.receiptFor);
    if (i >= 0 && c.messages[i].outgoing && c.messages[i].delivery !== 'displayed') {
      c = replaceAt(c, i, { ...c.messages[i], delivery: 'received' });
    }
  }

  if (ev.displayedFor) {
    // XEP-0333 §3: displayed also means everything before it was seen.
    const i = findIndex(c, ev.displayedFor);
    if (i >= 0 && !who.outgoing) {
      const messages = c.messages.map((m, j) => (j <= i && m.outgoing && m.delivery !== 'error' ? { ...m, delivery: 'displayed' as Delivery } : m));
      c = { ...c, messages };
    } else if (who.outgoing) {
      c = { ...c, unread: 0, lastRead: ev.displayedFor }; // read on another device of ours
    }
  }

  if (ev.chatState && !who.outgoing && !ctx.fromArchive) {
    const typing = { ...c.typing };
    if (ev.chatState === 'composing' || ev.chatState === 'paused') typing[who.author] = ev.chatState;
    else delete typing[who.author];
    c = { ...c, typing };
  }

  if (ev.subject !== null && c.kind === 'room' && ev.body === null) {
    c = { ...c, subject: ev.subject.slice(0, 1000) };
  }

  if (ev.reactions) {
    // XEP-0444 §3.2: a reactions element replaces all of this author's
    // reactions to the target.
    const i = findIndex(c, ev.reactions.id);
    if (i >= 0) {
      const reactions: Record<string, string[]> = {};
      for (const [emoji, authors] of Object.entries(c.messages[i].reactions)) {
        const rest = authors.filter((a) => a !== who.author);
        if (rest.length) reactions[emoji] = rest;
      }
      for (const e of ev.reactions.emojis) reactions[e] = [...(reactions[e] || []), who.author];
      c = replaceAt(c, i, { ...c.messages[i], reactions });
    }
    return c;
  }

  if (ev.retractId) {
    // XEP-0424 §4: only the original author may retract.
    const i = findIndex(c, ev.retractId);
    if (i >= 0 && c.messages[i].author === who.author) {
      c = replaceAt(c, i, { ...c.messages[i], retracted: true, body: '', oobUrl: null, reactions: {} });
    }
    return c;
  }

  if (ev.replaceId && ev.body !== null) {
    // XEP-0308 §5: a correction from someone else is ignored.
    const i = findIndex(c, ev.replaceId);
    if (i >= 0 && c.messages[i].author === who.author) {
      c = replaceAt(c, i, { ...c.messages[i], body: ev.body, edited: true, label: ev.label ?? c.messages[i].label });
      return c;
    }
  }

  if (ev.body === null && !ev.form && !ev.invite) return c;

  // The same message may come live, as a carbon, from the archive and as a
  // room reflection of our own send: keep one copy.
  const keyIds = [ev.originId, ev.id, ev.stanzaId].filter((x): x is string => !!x);
  for (const k of keyIds) {
    const i = findIndex(c, k);
    if (i >= 0 && c.messages[i].author === who.author) {
      const old = c.messages[i];
      return replaceAt(c, i, {
        ...old,
        stanzaId: old.stanzaId || ev.stanzaId,
        delivery: old.outgoing && old.delivery === 'sending' ? 'sent' : old.delivery,
      });
    }
  }

  const m: ChatMessage = {
    id: ev.originId || ev.id || ev.stanzaId || `${who.author}-${ctx.now}-${c.messages.length}`,
    stanzaId: ev.stanzaId,
    author: who.author,
    outgoing: who.outgoing,
    body: ev.body ?? '',
    stamp: ev.stamp ?? ctx.now,
    edited: false,
    retracted: false,
    delivery: who.outgoing ? 'sent' : 'received',
    error: null,
    reactions: {},
    replyTo: ev.replyTo ? ev.replyTo.id : null,
    label: ev.label,
    oobUrl: ev.oobUrl,
    form: ev.form,
    thread: ev.thread,
    threadParent: ev.threadParent,
    forwarded: ev.forwarded && ev.forwarded.body !== null
      ? { author: bare(ev.forwarded.from), body: ev.forwarded.body, stamp: ev.forwarded.stamp } : null,
    invite: ev.invite,
  };
  const typing = { ...c.typing };
  delete typing[who.author];
  const unread = !who.outgoing && !ctx.active && !ctx.fromArchive ? c.unread + 1 : c.unread;
  return { ...c, messages: insertSorted(c.messages, m), unread, typing };
}

// A message we are sending, shown at once and updated by echoes/receipts.
export function conversationAddOwn(c: Conversation, m: Omit<ChatMessage, 'delivery' | 'error' | 'reactions' | 'edited' | 'retracted' | 'stanzaId' | 'forwarded' | 'invite' | 'form' | 'threadParent'> & { threadParent?: string | null }): Conversation {
  return { ...c, messages: insertSorted(c.messages, { ...m, threadParent: m.threadParent ?? null, stanzaId: null, delivery: 'sending', error: null, reactions: {},
    edited: false, retracted: false, forwarded: null, invite: null, form: null }) };
}

// Our own correction, applied locally before the echo.
export function conversationEditOwn(c: Conversation, id: string, body: string): Conversation {
  const i = findIndex(c, id);
  return i < 0 ? c : replaceAt(c, i, { ...c.messages[i], body, edited: true });
}

// Our reactions on a message, as XEP-0444 wants them sent: the full set.
export function reactionsToggle(m: ChatMessage, me: string, emoji: string): string[] {
  const mine = Object.entries(m.reactions).filter(([, a]) => a.includes(me)).map(([e]) => e);
  return mine.includes(emoji) ? mine.filter((e) => e !== emoji) : [...mine, emoji];
}

// The newest message from the peer that asked for a marker and is not yet
// marked: what we send <displayed/> for when the chat is read.
export function markerTarget(c: Conversation): ChatMessage | null {
  for (let i = c.messages.length - 1; i >= 0; i--) {
    const m = c.messages[i];
    if (!m.outgoing) return c.lastRead !== null && (m.id === c.lastRead || m.stanzaId === c.lastRead) ? null : m;
  }
  return null;
}

export function conversationSearch(c: Conversation, q: string): ChatMessage[] {
  const needle = q.trim().toLowerCase();
  if (!needle) return [];
  return c.messages.filter((m) => !m.retracted && m.body.toLowerCase().includes(needle));
}
