// The XMPP session of the web client: connects with Strophe over WebSocket
// (RFC 7395) or BOSH (XEP-0206), authenticates with the server's SASL
// mechanisms (SCRAM first), keeps the session alive with XEP-0198 stream
// management and resumption, and turns stanzas into state changes.
import { Strophe } from 'strophe.js';
import {
  conversationAddOwn, conversationApply, conversationEditOwn, conversationNew, markerTarget,
  messageRefId, reactionsToggle, type ChatMessage, type Conversation,
} from './state/chat';
import { DEFAULT_PREFS, Store, type Prefs } from './state/store';
import type { ThreadTarget } from './state/threads';
import { type DataForm, formParse, formSubmit } from './xmpp/forms';
import { fileFetch, uploadRefusalText } from './xmpp/files';
import { bare, domain, resource } from './xmpp/jid';
import { catalogDefault, catalogParse, type SecurityLabel } from './xmpp/labels';
import { NS, PREFS_NODE } from './xmpp/ns';
import {
  bookmarkPublishBuild, bookmarkRetractBuild, bookmarksParse, catalogQueryBuild, chatStateBuild, discoInfoParse,
  discoItemsParse, displayedBuild, errorParse, forwardBuild, mamFinParse, mamIdsQueryBuild, mamQueryBuild, messageBuild, messageParse,
  mucAdminBuild, mucInviteBuild, mucJoinBuild, pinBuild, pinsParse, pinsQueryBuild, prefsPublishBuild, presenceParse, pubsubEventParse, pubsubItemsBuild,
  pubsubItemsOf, reactionsBuild, receiptBuild, retractBuild, rosterParse, uploadSlotBuild, uploadSlotParse,
  uploadTokenBuild, uploadTokenParse, vcardPhotoParse, vcardWithPhotoBuild,
  type ChatState, type MessageEvent, type Pin,
} from './xmpp/stanzas';
import { attr, child, childText, el } from './xmpp/xml';

const S = Strophe.Status;
const IQ_TIMEOUT = 15000;
const MAM_PAGE = 40;
const MAX_RECONNECT_DELAY = 30000;

export interface LoginOptions {
  jid: string;
  password: string;
  service?: string; // ws(s):// or http(s):// URL; default: this page's host
}

function defaultServices(): { ws: string; bosh: string } {
  const q = new URLSearchParams(location.search);
  const secure = location.protocol === 'https:';
  const host = location.host;
  return {
    ws: q.get('ws') || `${secure ? 'wss' : 'ws'}://${host}/xmpp-websocket`,
    bosh: q.get('bosh') || `${location.protocol}//${host}/http-bind`,
  };
}

export class IqError extends Error {
  constructor(public condition: string, public text: string) {
    super(text || condition);
  }
}

export class Client {
  store = new Store();
  private conn: InstanceType<typeof Strophe.Connection> | null = null;
  private creds: { jid: string; password: string } | null = null;
  private services: string[] = [];
  private serviceIndex = 0;
  private wantOnline = false;
  private everConnected = false;
  private reconnectDelay = 1000;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private mamPending = new Map<string, { conv: string; resolve: () => void }>();
  private typingTimer: ReturnType<typeof setTimeout> | null = null;
  private sentState: Record<string, ChatState> = {};
  private counter = 0;
  private focused = typeof document !== 'undefined' ? document.hasFocus() : true;

  id(prefix = 'a'): string {
    this.counter++;
    const rnd = Math.random().toString(36).slice(2, 10);
    return `${prefix}${Date.now().toString(36)}${this.counter}${rnd}`;
  }

  notice(text: string, kind: 'info' | 'error' = 'info'): void {
    const id = ++this.counter;
    this.store.update((s) => ({ notices: [...s.notices.slice(-4), { id, kind, text }] }));
    setTimeout(() => this.store.update((s) => ({ notices: s.notices.filter((n) => n.id !== id) })), kind === 'error' ? 10000 : 5000);
  }

  // ---- connection ---------------------------------------------------------

  login(o: LoginOptions): void {
    const d = defaultServices();
    this.creds = { jid: o.jid.trim(), password: o.password };
    // An explicit service is used alone; otherwise WebSocket, then BOSH.
    this.services = o.service ? [o.service] : [d.ws, d.bosh];
    this.serviceIndex = 0;
    this.wantOnline = true;
    this.everConnected = false;
    this.store.update(() => ({ status: 'connecting', statusText: 'Connecting…' }));
    this.connectNow(true);
  }

  private connectNow(fresh: boolean): void {
    if (!this.creds) return;
    const url = this.services[this.serviceIndex];
    if (fresh || !this.conn) {
      this.conn = new Strophe.Connection(url, {
        enableStreamManagement: true,
        // Resumption state lives in memory only: a reload starts a fresh
        // session (a resumed stream would not bring back the page's roster
        // and presence), a network drop resumes (XEP-0198 §5). Each tab
        // is its own resource.
        streamManagement: { maxUnacked: 5, max: 300 },
      } as any);
    }
    // Strophe drops every handler when a stream ends: add ours for each
    // stream, resumed or not.
    this.installHandlers();
    this.store.update(() => ({ transport: url.startsWith('ws') ? 'websocket' : 'bosh' }));
    this.conn.connect(this.creds.jid, this.creds.password, (status: number, cond: string | null) => this.onStatus(status, cond));
  }

  private onStatus(status: number, cond: string | null): void {
    switch (status) {
      case S.CONNECTED: {
        const restored = !!(this.conn as any).restored;
        this.everConnected = true;
        this.reconnectDelay = 1000;
        const jid = (this.conn as any).jid as string;
        this.store.update(() => ({ status: 'online', statusText: restored ? 'Resumed' : 'Online', jid, me: bare(jid) }));
        if (!restored) void this.sessionStart();
        break;
      }
      case S.AUTHFAIL:
        this.wantOnline = false;
        this.store.update(() => ({ status: 'offline', statusText: 'Wrong address or password' }));
        break;
      case S.CONNFAIL:
      case S.ERROR:
      case S.CONNTIMEOUT:
        this.store.update(() => ({ statusText: `Connection failed${cond ? ': ' + cond : ''}` }));
        break;
      case S.DISCONNECTED:
        this.onDisconnected(cond);
        break;
    }
  }

  private onDisconnected(cond: string | null): void {
    if (!this.wantOnline) {
      this.store.update(() => ({ status: 'offline', statusText: cond === 'conflict' ? 'Signed in elsewhere' : 'Signed out' }));
      return;
    }
    if (!this.everConnected && this.serviceIndex + 1 < this.services.length) {
      // WebSocket never came up (blocked proxy, no endpoint): fall back to BOSH.
      this.serviceIndex++;
      this.connectNow(true);
      return;
    }
    if (!this.everConnected) {
      this.wantOnline = false;
      this.store.update(() => ({ status: 'offline', statusText: 'Cannot reach the server' }));
      return;
    }
    // Reconnect with backoff; the same Connection keeps the SM state so the
    // server can resume the session and resend what we missed.
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, MAX_RECONNECT_DELAY);
    this.store.update(() => ({ status: 'reconnecting', statusText: `Reconnecting in ${Math.round(delay / 1000)} s…` }));
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.wantOnline) this.connectNow(false);
    }, delay);
  }

  logout(): void {
    this.wantOnline = false;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.conn) {
      (this.conn as any).sm?.clearPersistedState?.();
      this.conn.disconnect('logout');
    }
    this.creds = null;
  }

  // The page is going away: close the stream cleanly so the server does not
  // keep a session waiting for resumption (best effort, no answer awaited).
  pageHide(): void {
    if (this.conn && this.store.get().status === 'online') {
      this.wantOnline = false;
      try { this.conn.disconnect('page closed'); this.conn.flush(); } catch { /* the page is leaving */ }
    }
  }

  // Reconnect at once (e.g. the browser came back online).
  reconnectNow(): void {
    if (this.store.get().status === 'reconnecting' && this.reconnectTimer) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
      this.connectNow(false);
    }
  }

  send(e: Element): void {
    this.conn?.send(e);
  }

  iq(e: Element, timeout = IQ_TIMEOUT): Promise<Element> {
    return new Promise((resolve, reject) => {
      if (!this.conn) return reject(new IqError('not-connected', 'Not connected'));
      if (!e.getAttribute('id')) e.setAttribute('id', this.id('iq'));
      this.conn.sendIQ(e, resolve, (r: Element | null) => {
        if (!r) return reject(new IqError('remote-server-timeout', 'No answer from the server'));
        const err = errorParse(r);
        reject(new IqError(err?.condition || 'undefined-condition', err?.text || ''));
      }, timeout);
    });
  }

  private installHandlers(): void {
    const c = this.conn!;
    c.addHandler((m: Element) => { this.safe(() => this.onMessage(m)); return true; }, null, 'message', null);
    c.addHandler((p: Element) => { this.safe(() => this.onPresence(p)); return true; }, null, 'presence', null);
    c.addHandler((iq: Element) => { this.safe(() => this.onIqSet(iq)); return true; }, NS.ROSTER, 'iq', 'set');
    c.addHandler((iq: Element) => { this.safe(() => this.onIqGet(iq)); return true; }, null, 'iq', 'get');
  }

  private safe(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      console.error('stanza handler failed', e);
    }
  }

  // After a fresh (not resumed) session: roster, presence, carbons,
  // services, bookmarks, preferences, archives.
  private async sessionStart(): Promise<void> {
    const s = this.store.get();
    try {
      const r = await this.iq(el('iq', { type: 'get' }, el('query', { xmlns: NS.ROSTER })));
      const items = rosterParse(child(r, 'query', NS.ROSTER));
      this.store.update(() => ({ roster: Object.fromEntries(items.map((i) => [i.jid, i])), presence: {} }));
    } catch (e) {
      this.notice('Could not load contacts: ' + (e as Error).message, 'error');
    }
    this.sendPresence(s.myStatus.show, s.myStatus.status);
    this.iq(el('iq', { type: 'set' }, el('enable', { xmlns: NS.CARBONS }))).catch(() => undefined);
    void this.discoverServices();
    void this.loadPrefs();
    void this.loadBookmarks();
    // Rejoin rooms we were in before a non-resumed reconnect.
    for (const room of Object.values(this.store.get().rooms)) {
      if (room.joined || room.joining) this.joinRoom(room.jid, room.nick);
    }
    void this.loadCatalog(this.store.get().me);
    void this.loadAvatars();
  }

  private async discoverServices(): Promise<void> {
    const host = domain(this.store.get().jid);
    try {
      const items = discoItemsParse(await this.iq(el('iq', { type: 'get', to: host }, el('query', { xmlns: NS.DISCO_ITEMS }))));
      for (const it of items.slice(0, 50)) {
        try {
          const info = discoInfoParse(await this.iq(el('iq', { type: 'get', to: it.jid }, el('query', { xmlns: NS.DISCO_INFO }))));
          if (info.features.includes(NS.UPLOAD)) {
            const form = info.forms.find((f) => f.fields.some((x) => x.var === 'FORM_TYPE' && x.values[0] === NS.UPLOAD));
            const max = Number(form?.fields.find((x) => x.var === 'max-file-size')?.values[0] || 0);
            this.store.update(() => ({ uploadService: { jid: it.jid, maxSize: Number.isFinite(max) ? max : 0,
              auth: info.features.includes(NS.UPLOAD_AUTH) } }));
          }
          if (info.identities.some((i) => i.category === 'conference' && i.type === 'text')) {
            this.store.update(() => ({ mucService: it.jid }));
          }
        } catch {
          /* one unreachable service does not stop the others */
        }
      }
    } catch {
      /* no disco#items: no services */
    }
  }

  // ---- presence and roster --------------------------------------------------

  sendPresence(show: string, status: string): void {
    this.store.update(() => ({ myStatus: { show, status } }));
    this.send(el('presence', {}, show ? el('show', {}, show) : null, status ? el('status', {}, status) : null));
    // Rooms get the same availability (XEP-0045 §7.7).
    for (const r of Object.values(this.store.get().rooms)) {
      if (r.joined) this.send(el('presence', { to: `${r.jid}/${r.nick}` }, show ? el('show', {}, show) : null, status ? el('status', {}, status) : null));
    }
  }

  private onPresence(p: Element): void {
    const ev = presenceParse(p);
    const from = bare(ev.from);
    const st = this.store.get();
    if (st.rooms[from]) return this.onRoomPresence(from, ev);
    switch (ev.type) {
      case 'subscribe':
        // RFC 6121 §3.1.3: a contact we already asked is approved at once
        // (pre-approval); others wait for the user.
        if (st.roster[from]?.subscription === 'from' || st.roster[from]?.subscription === 'both') {
          this.send(el('presence', { to: from, type: 'subscribed' }));
        } else if (!st.requests.includes(from)) {
          this.store.update((s) => ({ requests: [...s.requests, from] }));
          this.notify(`${from} wants to add you`, 'Contact request');
        }
        return;
      case 'unavailable': {
        const pres = { ...st.presence };
        const res = { ...(pres[from] || {}) };
        delete res[resource(ev.from)];
        pres[from] = res;
        this.store.update(() => ({ presence: pres }));
        return;
      }
      case '': {
        const pres = { ...st.presence };
        pres[from] = { ...(pres[from] || {}), [resource(ev.from)]: { show: ev.show, status: ev.status, priority: ev.priority } };
        this.store.update(() => ({ presence: pres }));
        return;
      }
      case 'error':
        if (ev.error) this.notice(`${from}: ${ev.error.text || ev.error.condition}`, 'error');
        return;
    }
  }

  private onIqSet(iq: Element): void {
    // RFC 6121 §2.1.6: roster pushes only from our own account.
    const from = attr(iq, 'from');
    const st = this.store.get();
    if (from && bare(from) !== st.me) return;
    const items = rosterParse(child(iq, 'query', NS.ROSTER));
    const roster = { ...st.roster };
    for (const it of items) {
      if (it.subscription === 'remove') delete roster[it.jid];
      else roster[it.jid] = it;
    }
    this.store.update(() => ({ roster }));
    this.send(el('iq', { type: 'result', id: attr(iq, 'id') || '', to: from || undefined }));
  }

  private onIqGet(iq: Element): void {
    // Answer pings and disco; refuse the rest (RFC 6120 §8.4).
    const id = attr(iq, 'id') || '';
    const to = attr(iq, 'from') || undefined;
    if (child(iq, 'ping', NS.PING)) {
      this.send(el('iq', { type: 'result', id, to }));
    } else if (child(iq, 'query', NS.DISCO_INFO)) {
      const feats = [NS.DISCO_INFO, NS.RECEIPTS, NS.MARKERS, NS.CHATSTATES, NS.CORRECT, NS.RETRACT, NS.REPLY,
        NS.REACTIONS, NS.OOB, NS.CONFERENCE, NS.SECLABEL, NS.PING, NS.DATA];
      this.send(el('iq', { type: 'result', id, to }, el('query', { xmlns: NS.DISCO_INFO },
        el('identity', { category: 'client', type: 'web', name: 'Aldis web' }),
        feats.map((f) => el('feature', { var: f })))));
    } else if (attr(iq, 'type') === 'get') {
      this.send(el('iq', { type: 'error', id, to }, el('error', { type: 'cancel' },
        el('service-unavailable', { xmlns: NS.STANZAS }))));
    }
  }

  addContact(jid: string, name: string): void {
    const b = bare(jid);
    this.iq(el('iq', { type: 'set' }, el('query', { xmlns: NS.ROSTER }, el('item', { jid: b, name: name || undefined }))))
      .then(() => this.send(el('presence', { to: b, type: 'subscribe' })))
      .catch((e) => this.notice(`Could not add ${b}: ${e.message}`, 'error'));
  }

  answerRequest(jid: string, accept: boolean): void {
    this.send(el('presence', { to: jid, type: accept ? 'subscribed' : 'unsubscribed' }));
    if (accept) {
      const item = this.store.get().roster[jid];
      // Ask back, so both see each other (mutual subscription).
      if (!item || item.subscription === 'none' || item.subscription === 'from') this.send(el('presence', { to: jid, type: 'subscribe' }));
    }
    this.store.update((s) => ({ requests: s.requests.filter((r) => r !== jid) }));
  }

  removeContact(jid: string): void {
    this.iq(el('iq', { type: 'set' }, el('query', { xmlns: NS.ROSTER }, el('item', { jid, subscription: 'remove' }))))
      .catch((e) => this.notice(`Could not remove ${jid}: ${e.message}`, 'error'));
  }

  // ---- messages -------------------------------------------------------------

  private convKindFor(jid: string): 'chat' | 'room' {
    return this.store.get().rooms[jid] ? 'room' : 'chat';
  }

  private ensureConv(jid: string, kind: 'chat' | 'room'): Conversation {
    const st = this.store.get();
    const c = st.conversations[jid];
    if (c) return c;
    const nc = conversationNew(jid, kind);
    this.store.update((s) => ({ conversations: { ...s.conversations, [jid]: nc } }));
    return nc;
  }

  private setConv(c: Conversation): void {
    this.store.update((s) => ({ conversations: { ...s.conversations, [c.jid]: c } }));
  }

  private onMessage(m: Element): void {
    const st = this.store.get();
    const ev = pubsubEventParse(m);
    if (ev && bare(attr(m, 'from') || st.me) === st.me) return this.onPepEvent(ev);
    // A room's pinned messages changed (urn:aldis:pin:0): the announcement
    // carries the whole new list and nothing to show in the timeline.
    const pins = attr(m, 'type') === 'groupchat' ? pinsParse(m) : null;
    if (pins) {
      const from = attr(m, 'from') || '';
      if (!resource(from) && st.rooms[from]) this.setPins(from, pins);
      return;
    }
    const msg = messageParse(m);
    if (msg.mamQueryId) {
      // Only results of queries we made, from our archive or a room's.
      const q = this.mamPending.get(msg.mamQueryId);
      const from = attr(m, 'from');
      if (!q || (from && bare(from) !== st.me && bare(from) !== q.conv)) return;
      this.applyTo(q.conv, msg, true);
      return;
    }
    // XEP-0280 §11: a carbon must come from our own account (no 'from' is
    // our account too, RFC 6120 §8.1.2.1); anything else is forged.
    if (msg.carbon && bare(attr(m, 'from') || st.me) !== st.me) return;
    const fromBare = bare(msg.from || st.me);
    let peer: string;
    if (msg.type === 'groupchat') {
      if (!st.rooms[fromBare]) return;
      peer = fromBare;
    } else if (st.rooms[fromBare] && resource(msg.from)) {
      // A private message from a room occupant (XEP-0045 §7.5): its own
      // conversation, addressed to the occupant's room JID.
      peer = msg.from;
    } else if (msg.carbon === 'sent' || fromBare === st.me) {
      peer = st.rooms[bare(msg.to)] && resource(msg.to) ? msg.to : bare(msg.to);
    } else {
      peer = fromBare;
    }
    if (!peer) return;
    if (msg.invite && msg.type !== 'error') {
      this.notice(`${bare(msg.invite.from) || peer} invites you to ${msg.invite.room}`);
    }
    // XEP-0184 §5.4: acknowledge only what was asked, never errors or groupchat.
    if (msg.receiptRequest && msg.type !== 'groupchat' && msg.type !== 'error' && !msg.carbon && msg.body !== null && fromBare !== st.me) {
      this.send(receiptBuild(msg.from, msg.id, this.id('r')));
    }
    this.applyTo(peer, msg, false);
    const c = this.store.get().conversations[peer];
    const isActive = st.active === peer && this.focused;
    if (msg.body && msg.type !== 'error' && !msg.carbon && !msg.replaceId && fromBare !== st.me && c) {
      const last = c.messages[c.messages.length - 1];
      if (last && !last.outgoing && !isActive) this.notify(msg.body, msg.type === 'groupchat' ? `${resource(msg.from)} in ${peer}` : peer);
      if (isActive) this.markRead(peer);
    }
  }

  private applyTo(jid: string, msg: MessageEvent, fromArchive: boolean): void {
    const st = this.store.get();
    const kind = this.convKindFor(jid);
    const c = this.ensureConv(jid, kind);
    const room = st.rooms[jid];
    const next = conversationApply(this.store.get().conversations[jid] || c, msg, {
      me: st.me, myNick: room ? room.nick : null, active: st.active === jid && this.focused, fromArchive, now: Date.now(),
    });
    this.setConv(next);
  }

  // Send a text message to the active chat or room.
  // In a thread (XEP-0201), the message carries the thread id and a reply
  // to the thread's root (state/threads.ts).
  // `label`, when given, is used instead of the picker's (an uploaded
  // file's announcement carries the label its slot was asked with).
  async sendText(jid: string, body: string, opts: { replyTo?: ChatMessage | null; editOf?: ChatMessage | null; oobUrl?: string | null;
    thread?: ThreadTarget | null; label?: SecurityLabel | null } = {}): Promise<void> {
    // The catalog's default label must be on the first message too: wait
    // for the catalog if this conversation's has not been fetched yet.
    await this.catalogReady(jid);
    const st = this.store.get();
    const kind = this.convKindFor(jid);
    const conv = this.ensureConv(jid, kind);
    const id = this.id('m');
    const label = opts.label !== undefined ? opts.label : this.chosenLabel(jid);
    const th = opts.thread && !opts.editOf ? opts.thread : null;
    const replyTo = th
      ? { id: th.rootRef, to: kind === 'room' ? `${jid}/${th.root.author}` : jid, quote: '' }
      : opts.replyTo
        ? { id: messageRefId(conv, opts.replyTo), to: kind === 'room' ? `${jid}/${opts.replyTo.author}` : jid, quote: opts.replyTo.body }
        : null;
    const stanza = messageBuild({ to: jid, type: kind === 'room' ? 'groupchat' : 'chat', id, body, label,
      replaceId: opts.editOf ? opts.editOf.id : null, replyTo, oobUrl: opts.oobUrl || null,
      thread: th ? th.thread : null, threadParent: th ? th.parent : null });
    this.sentState[jid] = 'active';
    this.send(stanza);
    const cur = this.store.get().conversations[jid] || conv;
    if (opts.editOf) {
      this.setConv(conversationEditOwn(cur, opts.editOf.id, body));
      return;
    }
    this.setConv(conversationAddOwn(cur, {
      id, author: kind === 'room' ? st.rooms[jid]?.nick || '' : st.me, outgoing: true, body, stamp: Date.now(),
      replyTo: replyTo ? replyTo.id : null, label, oobUrl: opts.oobUrl || null,
      thread: th ? th.thread : null, threadParent: th ? th.parent : null,
    }));
  }

  retract(jid: string, m: ChatMessage): void {
    const conv = this.store.get().conversations[jid];
    if (!conv) return;
    this.send(retractBuild(jid, conv.kind === 'room' ? 'groupchat' : 'chat', messageRefId(conv, m), this.id('x')));
    if (conv.kind === 'chat') {
      this.setConv({ ...conv, messages: conv.messages.map((x) => (x === m ? { ...x, retracted: true, body: '', oobUrl: null } : x)) });
    }
  }

  react(jid: string, m: ChatMessage, emoji: string): void {
    const st = this.store.get();
    const conv = st.conversations[jid];
    if (!conv) return;
    const me = conv.kind === 'room' ? st.rooms[jid]?.nick || '' : st.me;
    const set = reactionsToggle(m, me, emoji);
    this.send(reactionsBuild(jid, conv.kind === 'room' ? 'groupchat' : 'chat', messageRefId(conv, m), set, this.id('re')));
    if (conv.kind === 'chat') {
      // Rooms reflect our reaction back; 1:1 does not, so apply it locally.
      const ev = messageParse(reactionsBuild(jid, 'chat', messageRefId(conv, m), set, 'local'));
      this.setConv(conversationApply(conv, { ...ev, from: st.jid }, { me: st.me, myNick: null, active: true, fromArchive: false, now: Date.now() }));
    }
  }

  forward(m: ChatMessage, fromConv: string, to: string): void {
    const kind = this.convKindFor(to);
    const original = el('message', { from: fromConv, type: 'chat' }, el('body', {}, m.body));
    this.send(forwardBuild(to, kind === 'room' ? 'groupchat' : 'chat', original, new Date(m.stamp), this.id('f'), `Forwarded: ${m.body}`));
  }

  // XEP-0085: composing while typing, paused after 5 s without keys.
  typing(jid: string): void {
    if (!this.store.get().prefs.sendTyping) return;
    const kind = this.convKindFor(jid);
    const type = kind === 'room' ? 'groupchat' : 'chat';
    if (this.sentState[jid] !== 'composing') {
      this.sentState[jid] = 'composing';
      this.send(chatStateBuild(jid, type, 'composing'));
    }
    if (this.typingTimer) clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => {
      if (this.sentState[jid] === 'composing') {
        this.sentState[jid] = 'paused';
        this.send(chatStateBuild(jid, type, 'paused'));
      }
    }, 5000);
  }

  // Open a conversation; marks it read.
  open(jid: string): void {
    const kind = this.convKindFor(jid);
    this.ensureConv(jid, kind);
    this.store.update(() => ({ active: jid, view: 'chat' }));
    this.markRead(jid);
    const conv = this.store.get().conversations[jid];
    const room = this.store.get().rooms[jid];
    // A room's archive is read once joined, and only if it has one.
    if (conv && conv.messages.length === 0 && !conv.mamComplete && (!room || (room.joined && room.mam))) void this.loadHistory(jid);
    if (!(jid in this.store.get().catalogs)) void this.loadCatalog(jid);
  }

  setFocused(f: boolean): void {
    this.focused = f;
    const a = this.store.get().active;
    if (f && a) this.markRead(a);
  }

  markRead(jid: string): void {
    const st = this.store.get();
    const conv = st.conversations[jid];
    if (!conv) return;
    const target = markerTarget(conv);
    if (conv.unread !== 0 || target) this.setConv({ ...conv, unread: 0, lastRead: target ? target.id : conv.lastRead });
    if (target && st.prefs.sendMarkers && st.status === 'online') {
      this.send(displayedBuild(conv.kind === 'room' ? jid : jid, conv.kind === 'room' ? 'groupchat' : 'chat', messageRefId(conv, target), this.id('d')));
    }
  }

  // XEP-0313: one page backwards; resolves when the page is complete.
  async loadHistory(jid: string): Promise<void> {
    const st = this.store.get();
    const conv = st.conversations[jid];
    if (!conv || conv.mamComplete || st.status !== 'online') return;
    const queryId = this.id('q');
    const isRoom = conv.kind === 'room';
    const done = new Promise<void>((resolve) => this.mamPending.set(queryId, { conv: jid, resolve }));
    try {
      const res = await this.iq(mamQueryBuild({
        id: this.id('mam'), queryId, archive: isRoom ? jid : undefined, with: isRoom ? undefined : jid,
        before: conv.mamOldest || '', max: MAM_PAGE }));
      const fin = mamFinParse(res);
      const cur = this.store.get().conversations[jid];
      if (cur) this.setConv({ ...cur, mamComplete: !fin || fin.complete || !fin.first, mamOldest: fin?.first || cur.mamOldest });
    } catch (e) {
      const cur = this.store.get().conversations[jid];
      if (cur) this.setConv({ ...cur, mamComplete: true });
      if ((e as IqError).condition !== 'service-unavailable' && (e as IqError).condition !== 'feature-not-implemented') {
        this.notice('History unavailable: ' + (e as Error).message, 'error');
      }
    } finally {
      this.mamPending.get(queryId)?.resolve();
      this.mamPending.delete(queryId);
    }
    return done;
  }

  // ---- security labels (XEP-0258) -------------------------------------------

  private catalogLoads = new Map<string, Promise<void>>();

  catalogReady(target: string): Promise<void> {
    if (target in this.store.get().catalogs) return Promise.resolve();
    return this.catalogLoads.get(target) || this.loadCatalog(target);
  }

  loadCatalog(target: string): Promise<void> {
    const p = this.fetchCatalog(target).finally(() => this.catalogLoads.delete(target));
    this.catalogLoads.set(target, p);
    return p;
  }

  private async fetchCatalog(target: string): Promise<void> {
    const st = this.store.get();
    if (!st.jid) return;
    try {
      const r = await this.iq(catalogQueryBuild(domain(st.jid), target, this.id('cat')));
      const cat = catalogParse(r);
      this.store.update((s) => ({ catalogs: { ...s.catalogs, [target]: cat } }));
      if (cat && this.store.get().rooms[target]) this.updateRoomBanner(target);
    } catch {
      this.store.update((s) => ({ catalogs: { ...s.catalogs, [target]: null } }));
    }
  }

  // The room's banner: the highest classification its catalog offers, i.e.
  // the ceiling the room may carry.
  private updateRoomBanner(room: string): void {
    const cat = this.store.get().catalogs[room];
    const withMarking = (cat?.items || []).filter((i) => i.label?.marking);
    const top = withMarking[withMarking.length - 1];
    const r = this.store.get().rooms[room];
    if (r && top) this.store.update((s) => ({ rooms: { ...s.rooms, [room]: { ...r, banner: top.label } } }));
  }

  chosenLabel(jid: string): SecurityLabel | null {
    const st = this.store.get();
    const cat = st.catalogs[jid] ?? null;
    const sel = st.labelChoice[jid];
    // A choice the current catalog no longer offers falls back to the
    // catalog's default, never to "no label".
    const item = cat && sel !== undefined ? cat.items.find((i) => i.selector === sel) : undefined;
    if (item || (sel === '' && cat && !cat.restrict)) return item?.label ?? null;
    return catalogDefault(cat)?.label ?? null;
  }

  chooseLabel(jid: string, selector: string): void {
    this.store.update((s) => ({ labelChoice: { ...s.labelChoice, [jid]: selector } }));
  }

  // ---- rooms (XEP-0045) --------------------------------------------------------

  joinRoom(room: string, nick: string, password: string | null = null): void {
    const jid = bare(room);
    const existing = this.store.get().rooms[jid];
    this.store.update((s) => ({ rooms: { ...s.rooms, [jid]: {
      jid, nick, joined: false, joining: true, occupants: existing?.occupants || {}, name: existing?.name || '',
      banner: existing?.banner || null, error: null, mam: existing?.mam ?? false,
      pinsSupported: existing?.pinsSupported ?? false, pins: existing?.pins || [] } } }));
    this.ensureConv(jid, 'room');
    const conv = this.store.get().conversations[jid];
    if (conv.kind !== 'room') this.setConv({ ...conv, kind: 'room' });
    void this.joinWithHistory(jid, nick, password);
  }

  // History comes from the room's archive when it has one (XEP-0313 §6),
  // so the join asks for no discussion history; otherwise the last 20
  // messages come with the join (XEP-0045 §7.2.15). A room that does not
  // exist yet (item-not-found) is created by the join.
  private async joinWithHistory(jid: string, nick: string, password: string | null): Promise<void> {
    const info = await this.roomInfo(jid);
    const mam = !!info && info.features.includes(NS.MAM);
    const pinsSupported = !!info && info.features.includes(NS.PIN);
    const r = this.store.get().rooms[jid];
    if (!r || !r.joining) return; // left meanwhile
    this.store.update((s) => ({ rooms: { ...s.rooms, [jid]: { ...s.rooms[jid], mam, pinsSupported } } }));
    this.send(mucJoinBuild(`${jid}/${nick}`, password, mam ? 0 : 20));
  }

  leaveRoom(jid: string): void {
    const r = this.store.get().rooms[jid];
    if (!r) return;
    this.send(el('presence', { to: `${jid}/${r.nick}`, type: 'unavailable' }));
    this.store.update((s) => {
      const rooms = { ...s.rooms };
      delete rooms[jid];
      return { rooms, active: s.active === jid ? null : s.active };
    });
  }

  private onRoomPresence(room: string, ev: ReturnType<typeof presenceParse>): void {
    const st = this.store.get();
    const r = st.rooms[room];
    if (!r) return;
    const nick = resource(ev.from);
    if (ev.type === 'error') {
      const why = ev.error ? (ev.error.text || ev.error.condition.replace(/-/g, ' ')) : 'error';
      this.store.update((s) => ({ rooms: { ...s.rooms, [room]: { ...r, joining: false, joined: false, error: why } } }));
      this.notice(`Cannot join ${room}: ${why}`, 'error');
      return;
    }
    const occupants = { ...r.occupants };
    const self = ev.muc?.codes.includes(110) || nick === r.nick;
    if (ev.type === 'unavailable') {
      delete occupants[nick];
      if (self && ev.muc && !ev.muc.codes.includes(303)) {
        const why = ev.muc.codes.includes(307) ? 'You were kicked' : ev.muc.codes.includes(301) ? 'You were banned' : 'You left';
        this.notice(`${room}: ${why}`, ev.muc.codes.includes(307) || ev.muc.codes.includes(301) ? 'error' : 'info');
        this.store.update((s) => ({ rooms: { ...s.rooms, [room]: { ...r, joined: false, joining: false, occupants: {}, error: why } } }));
        return;
      }
    } else if (ev.muc) {
      occupants[nick] = ev.muc.item;
    }
    let next = { ...r, occupants };
    if (self && ev.type === '') {
      const created = ev.muc?.codes.includes(201);
      next = { ...next, joined: true, joining: false, error: null };
      if (created) void this.configureNewRoom(room);
      if (!r.joined) {
        const conv = this.store.get().conversations[room];
        if (r.mam && conv && conv.messages.length === 0) void this.loadHistory(room);
        else if (!r.mam && conv) this.setConv({ ...conv, mamComplete: true });
        void this.loadCatalog(room);
        // A room created just now has its features once configured.
        if (r.pinsSupported || created) void this.loadPins(room);
      }
    }
    this.store.update((s) => ({ rooms: { ...s.rooms, [room]: next } }));
  }

  private async roomInfo(room: string): Promise<ReturnType<typeof discoInfoParse> | null> {
    try {
      const info = discoInfoParse(await this.iq(el('iq', { type: 'get', to: room }, el('query', { xmlns: NS.DISCO_INFO }))));
      const name = info.identities.find((i) => i.category === 'conference')?.name || '';
      const r = this.store.get().rooms[room];
      if (r) this.store.update((s) => ({ rooms: { ...s.rooms, [room]: { ...s.rooms[room], name } } }));
      return info;
    } catch {
      return null; // a room that does not exist yet
    }
  }

  // A room we just created is locked until configured (XEP-0045 §10.1.2):
  // show its configuration form; Cancel accepts the defaults (instant room).
  private pendingCreate = new Map<string, Record<string, string[]>>();

  private async configureNewRoom(room: string): Promise<void> {
    const preset = this.pendingCreate.get(room);
    this.pendingCreate.delete(room);
    try {
      const r = await this.iq(el('iq', { type: 'get', to: room }, el('query', { xmlns: NS.MUC_OWNER })));
      const form = formParse(child(child(r, 'query', NS.MUC_OWNER), 'x', NS.DATA));
      if (!form) throw new Error('no form');
      const values = preset || await this.askForm(`Configure ${room}`, form);
      const x = values ? formSubmit(form, values) : el('x', { xmlns: NS.DATA, type: 'submit' });
      await this.iq(el('iq', { type: 'set', to: room }, el('query', { xmlns: NS.MUC_OWNER }, x)));
      void this.roomInfo(room);
    } catch (e) {
      // Fall back to an instant room so the room is usable.
      await this.iq(el('iq', { type: 'set', to: room }, el('query', { xmlns: NS.MUC_OWNER }, el('x', { xmlns: NS.DATA, type: 'submit' }))))
        .catch(() => this.notice(`Room ${room} could not be configured: ${(e as Error).message}`, 'error'));
    }
  }

  createRoom(name: string, nick: string, opts: { persistent: boolean; membersOnly: boolean; bookmark: boolean } ): string | null {
    const service = this.store.get().mucService;
    if (!service) {
      this.notice('This server has no room service', 'error');
      return null;
    }
    const local = name.trim().toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64) || this.id('room');
    const jid = `${local}@${service}`;
    this.pendingCreate.set(jid, {
      'muc#roomconfig_roomname': [name.trim()],
      'muc#roomconfig_persistentroom': [opts.persistent ? '1' : '0'],
      'muc#roomconfig_membersonly': [opts.membersOnly ? '1' : '0'],
    });
    this.joinRoom(jid, nick);
    if (opts.bookmark) this.saveBookmark({ jid, name: name.trim(), autojoin: true, nick, password: '' });
    this.open(jid);
    return jid;
  }

  async browseRooms(): Promise<void> {
    const service = this.store.get().mucService;
    if (!service) return;
    try {
      const items = discoItemsParse(await this.iq(el('iq', { type: 'get', to: service }, el('query', { xmlns: NS.DISCO_ITEMS }))));
      this.store.update(() => ({ publicRooms: items.map((i) => ({ jid: bare(i.jid), name: i.name })) }));
    } catch (e) {
      this.notice('Cannot list rooms: ' + (e as Error).message, 'error');
    }
  }

  invite(room: string, who: string, reason: string): void {
    this.send(mucInviteBuild(room, bare(who), reason, this.id('inv')));
    // Also a direct invitation (XEP-0249), which members-only rooms need less.
    this.send(el('message', { to: bare(who), id: this.id('di') }, el('x', { xmlns: NS.CONFERENCE, jid: room, reason: reason || undefined })));
  }

  moderate(room: string, item: { nick?: string; jid?: string; role?: string; affiliation?: string }, reason = ''): void {
    this.iq(mucAdminBuild(room, item, reason, this.id('adm')))
      .catch((e) => this.notice(`Moderation failed: ${e.message}`, 'error'));
  }

  async configureRoom(room: string): Promise<void> {
    try {
      const r = await this.iq(el('iq', { type: 'get', to: room }, el('query', { xmlns: NS.MUC_OWNER })));
      const form = formParse(child(child(r, 'query', NS.MUC_OWNER), 'x', NS.DATA));
      if (!form) return;
      const values = await this.askForm(`Configure ${room}`, form);
      if (!values) return;
      await this.iq(el('iq', { type: 'set', to: room }, el('query', { xmlns: NS.MUC_OWNER }, formSubmit(form, values))));
      this.notice('Room configured');
      void this.roomInfo(room);
    } catch (e) {
      this.notice('Room configuration failed: ' + (e as Error).message, 'error');
    }
  }

  setSubject(room: string, subject: string): void {
    this.send(el('message', { to: room, type: 'groupchat', id: this.id('s') }, el('subject', {}, subject)));
  }

  // ---- pinned messages (urn:aldis:pin:0) -------------------------------------------

  private setPins(room: string, pins: Pin[]): void {
    if (!this.store.get().rooms[room]) return;
    this.store.update((s) => ({ rooms: { ...s.rooms, [room]: { ...s.rooms[room], pins, pinsSupported: true } } }));
    void this.fetchPinned(room);
  }

  // The room's list, asked once joined (late joiners see the same pins);
  // later changes come as announcements (onMessage).
  async loadPins(room: string): Promise<void> {
    try {
      const r = await this.iq(pinsQueryBuild(room, this.id('pins')));
      const pins = pinsParse(r);
      if (pins) this.setPins(room, pins);
    } catch {
      /* a room without pins support, or we may not read its list */
    }
  }

  // Pinned messages not in the loaded history are fetched from the room's
  // archive by id (XEP-0313 §4.1.5); the archive applies the reader's
  // clearance, so a pin never shows content the reader may not see.
  async fetchPinned(room: string): Promise<void> {
    const st = this.store.get();
    const r = st.rooms[room];
    const conv = st.conversations[room];
    if (!r || !r.mam || !conv || st.status !== 'online') return;
    const have = new Set(conv.messages.flatMap((m) => [m.id, m.stanzaId || '']));
    const missing = r.pins.map((p) => p.id).filter((id) => !have.has(id));
    if (missing.length === 0) return;
    const queryId = this.id('q');
    this.mamPending.set(queryId, { conv: room, resolve: () => undefined });
    try {
      await this.iq(mamIdsQueryBuild({ id: this.id('mam'), queryId, archive: room, ids: missing }));
    } catch {
      /* unknown ids or no archive: the bar says the message is not available */
    } finally {
      this.mamPending.delete(queryId);
    }
  }

  pin(room: string, m: ChatMessage, on: boolean): void {
    if (m.stanzaId) void this.pinId(room, m.stanzaId, on);
  }

  // Also for a pin whose message is not loaded (or not readable by us).
  unpinId(room: string, id: string): Promise<void> {
    return this.pinId(room, id, false);
  }

  private async pinId(room: string, id: string, on: boolean): Promise<void> {
    try {
      await this.iq(pinBuild(room, id, on, this.id('pin')));
    } catch (e) {
      this.notice(`${on ? 'Pin' : 'Unpin'} failed: ${(e as Error).message}`, 'error');
    }
  }

  askForm(title: string, form: DataForm): Promise<Record<string, string[]> | null> {
    return new Promise((resolve) => {
      const id = this.id('form');
      this.store.update(() => ({ dialog: { id, title: form.title || title, form, submit: (v) => {
        this.store.update(() => ({ dialog: null }));
        resolve(v);
      } } }));
    });
  }

  // A form received in a message: submit it back to the sender.
  replyForm(to: string, form: DataForm, values: Record<string, string[]>): void {
    this.send(el('message', { to, type: 'normal', id: this.id('fr') }, formSubmit(form, values)));
  }

  // XEP-0050 ad-hoc commands of a JID, run through the forms dialog.
  async runCommand(jid: string, node: string): Promise<void> {
    let sessionid: string | null = null;
    let action: string | undefined = 'execute';
    let payload: Element | null = null;
    for (let step = 0; step < 20; step++) {
      const r = await this.iq(el('iq', { type: 'set', to: jid }, el('command', { xmlns: NS.COMMANDS, node, action, sessionid: sessionid || undefined }, payload)));
      const cmd = child(r, 'command', NS.COMMANDS);
      sessionid = attr(cmd, 'sessionid');
      const note = childText(cmd, 'note');
      if (note) this.notice(note);
      const form = formParse(child(cmd, 'x', NS.DATA));
      if (attr(cmd, 'status') !== 'executing' || !form) {
        if (form && form.type === 'result') await this.askForm('Result', form);
        return;
      }
      const values = await this.askForm(node, form);
      if (!values) {
        await this.iq(el('iq', { type: 'set', to: jid }, el('command', { xmlns: NS.COMMANDS, node, action: 'cancel', sessionid: sessionid || undefined }))).catch(() => undefined);
        return;
      }
      payload = formSubmit(form, values);
      action = undefined; // execute the default next action
    }
  }

  async listCommands(jid: string): Promise<{ node: string; name: string }[]> {
    const items = discoItemsParse(await this.iq(el('iq', { type: 'get', to: jid }, el('query', { xmlns: NS.DISCO_ITEMS, node: NS.COMMANDS }))));
    return items.map((i) => ({ node: i.node, name: i.name || i.node }));
  }

  // ---- bookmarks (XEP-0402) ------------------------------------------------------

  private async loadBookmarks(): Promise<void> {
    try {
      const r = await this.iq(pubsubItemsBuild(NS.BOOKMARKS, this.id('bm')));
      const bookmarks = bookmarksParse(pubsubItemsOf(r));
      this.store.update(() => ({ bookmarks }));
      for (const b of bookmarks) {
        if (b.autojoin && !this.store.get().rooms[b.jid]) this.joinRoom(b.jid, b.nick || this.defaultNick(), b.password || null);
      }
    } catch {
      /* item-not-found: no bookmarks yet */
    }
  }

  defaultNick(): string {
    return this.store.get().me.split('@')[0] || 'me';
  }

  saveBookmark(b: { jid: string; name: string; autojoin: boolean; nick: string; password: string }): void {
    this.iq(bookmarkPublishBuild(b, this.id('bmp')))
      .then(() => this.store.update((s) => ({ bookmarks: [...s.bookmarks.filter((x) => x.jid !== b.jid), b] })))
      .catch((e) => this.notice('Bookmark not saved: ' + e.message, 'error'));
  }

  removeBookmark(jid: string): void {
    this.iq(bookmarkRetractBuild(jid, this.id('bmr')))
      .then(() => this.store.update((s) => ({ bookmarks: s.bookmarks.filter((x) => x.jid !== jid) })))
      .catch((e) => this.notice('Bookmark not removed: ' + e.message, 'error'));
  }

  private onPepEvent(ev: { node: string; items: Element; retracted: string[] }): void {
    if (ev.node === NS.BOOKMARKS) {
      const added = bookmarksParse(ev.items);
      this.store.update((s) => ({ bookmarks: [
        ...s.bookmarks.filter((b) => !added.some((a) => a.jid === b.jid) && !ev.retracted.includes(b.jid)), ...added] }));
      for (const b of added) if (b.autojoin && !this.store.get().rooms[b.jid]) this.joinRoom(b.jid, b.nick || this.defaultNick());
    } else if (ev.node === PREFS_NODE) {
      this.applyPrefsItem(child(child(ev.items, 'item'), 'prefs'));
    }
  }

  // ---- preferences (XEP-0223) -------------------------------------------------------

  private applyPrefsItem(p: Element | null): void {
    if (!p) return;
    try {
      const raw = JSON.parse((p.textContent || '').slice(0, 10000));
      const prefs: Prefs = { ...DEFAULT_PREFS };
      if (['system', 'light', 'dark'].includes(raw.theme)) prefs.theme = raw.theme;
      for (const k of ['notifications', 'sendTyping', 'sendMarkers', 'enterSends'] as const) if (typeof raw[k] === 'boolean') prefs[k] = raw[k];
      this.store.update(() => ({ prefs }));
      localStorage.setItem('aldis.prefs', JSON.stringify(prefs));
    } catch {
      /* a corrupt item is ignored: defaults stay */
    }
  }

  private async loadPrefs(): Promise<void> {
    try {
      const r = await this.iq(pubsubItemsBuild(PREFS_NODE, this.id('pr')));
      this.applyPrefsItem(child(child(pubsubItemsOf(r), 'item'), 'prefs'));
    } catch {
      /* none stored yet */
    }
  }

  setPrefs(p: Partial<Prefs>): void {
    const prefs = { ...this.store.get().prefs, ...p };
    this.store.update(() => ({ prefs }));
    try { localStorage.setItem('aldis.prefs', JSON.stringify(prefs)); } catch { /* private mode */ }
    if (this.store.get().status === 'online') {
      this.iq(prefsPublishBuild(PREFS_NODE, JSON.stringify(prefs), this.id('pp')))
        .catch((e) => this.notice('Preferences saved on this device only: ' + e.message, 'error'));
    }
  }

  // ---- avatars (vCard-temp) ----------------------------------------------------

  // One at a time, bounded: a large roster must not flood the server.
  private async loadAvatars(): Promise<void> {
    const st = this.store.get();
    const jids = [st.me, ...Object.keys(st.roster)].slice(0, 200);
    for (const jid of jids) {
      if (this.store.get().status !== 'online') return;
      try {
        const r = await this.iq(el('iq', { type: 'get', to: jid === st.me ? undefined : jid }, el('vCard', { xmlns: NS.VCARD })));
        const url = vcardPhotoParse(r);
        if (url) this.store.update((s) => ({ avatars: { ...s.avatars, [jid]: url } }));
      } catch {
        /* no vCard */
      }
    }
  }

  async setAvatar(file: File): Promise<void> {
    if (!/^image\/(png|jpeg|gif|webp)$/.test(file.type) || file.size > 512 * 1024) {
      return this.notice('Choose a PNG, JPEG, GIF or WebP image under 512 KB', 'error');
    }
    const bytes = new Uint8Array(await file.arrayBuffer());
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    const b64 = btoa(bin);
    let current: Element | null = null;
    try {
      current = child(await this.iq(el('iq', { type: 'get' }, el('vCard', { xmlns: NS.VCARD }))), 'vCard', NS.VCARD);
    } catch {
      /* no vCard yet */
    }
    try {
      await this.iq(vcardWithPhotoBuild(current, file.type, b64, this.id('vc')));
      const me = this.store.get().me;
      this.store.update((s) => ({ avatars: { ...s.avatars, [me]: `data:${file.type};base64,${b64}` } }));
      this.notice('Avatar updated');
    } catch (e) {
      this.notice('Avatar not saved: ' + (e as Error).message, 'error');
    }
  }

  // ---- notifications ------------------------------------------------------------------

  private notify(body: string, title: string): void {
    if (!this.store.get().prefs.notifications || typeof Notification === 'undefined') return;
    if (Notification.permission !== 'granted' || this.focused) return;
    try {
      new Notification(title, { body: body.slice(0, 200), tag: title });
    } catch {
      /* some browsers only allow notifications from a service worker */
    }
  }

  // ---- file upload (XEP-0363) -----------------------------------------------------------

  async upload(jid: string, file: File): Promise<void> {
    const st = this.store.get();
    const svc = st.uploadService;
    if (!svc) return this.notice('This server has no upload service', 'error');
    if (svc.maxSize && file.size > svc.maxSize) {
      return this.notice(`${file.name} is larger than the server allows (${Math.round(svc.maxSize / 1048576)} MB)`, 'error');
    }
    const id = this.id('up');
    const setU = (p: Partial<{ sent: number; error: string | null; done: boolean; label: SecurityLabel | null }>) =>
      this.store.update((s) => ({ uploads: s.uploads.map((u) => (u.id === id ? { ...u, ...p } : u)) }));
    this.store.update((s) => ({ uploads: [...s.uploads, { id, name: file.name, size: file.size, sent: 0, error: null, done: false, conv: jid }] }));
    try {
      // The label picked for this conversation (the catalog's default
      // when nothing was picked) labels the file and the message that
      // shares it alike, taken once so a change of the picker during the
      // upload cannot split them.
      await this.catalogReady(jid);
      const label = this.chosenLabel(jid);
      setU({ label });
      const req = uploadSlotBuild(svc.jid, { name: file.name, size: file.size, type: file.type }, this.id('slot'), label);
      let answer: Element;
      try {
        answer = await this.iq(req);
      } catch (e) {
        if (!(e instanceof IqError)) throw e;
        const why = uploadRefusalText(e.condition, e.text, label);
        this.notice(`${file.name}: ${why}`, 'error');
        throw new Error(why);
      }
      const slot = uploadSlotParse(answer);
      if (!slot) throw new Error('the server sent no usable slot');
      await putWithProgress(slot.put, file, slot.headers, (n) => setU({ sent: n }));
      setU({ sent: file.size, done: true });
      await this.sendText(jid, slot.get, { oobUrl: slot.get, label });
      setTimeout(() => this.store.update((s) => ({ uploads: s.uploads.filter((u) => u.id !== id) })), 3000);
    } catch (e) {
      setU({ error: (e as Error).message });
    }
  }

  // ---- downloads -----------------------------------------------------------------

  // A labelled file is served only to someone who says who they are, with
  // a download token from the upload service (Authorization: Bearer,
  // docs/modules/upload.md); the server's one access decision then checks
  // the reader's clearance. Tokens are kept until a minute before expiry.
  private token: { value: string; expires: number } | null = null;
  private blobs = new Map<string, Promise<string>>();

  private tokenLoad: Promise<string | null> | null = null;

  // fresh: the cached token was refused (401); previews failing together
  // share one request for the next token.
  private downloadToken(fresh = false): Promise<string | null> {
    const svc = this.store.get().uploadService;
    if (!svc || !svc.auth) return Promise.resolve(null);
    if (fresh && !this.tokenLoad) this.token = null;
    if (this.token && this.token.expires - 60000 > Date.now()) return Promise.resolve(this.token.value);
    if (!this.tokenLoad) {
      this.tokenLoad = this.iq(uploadTokenBuild(svc.jid, this.id('tok'))).then((r) => {
        const t = uploadTokenParse(r);
        this.token = t ? { value: t.value, expires: Number.isNaN(t.expires) ? Date.now() + 300000 : t.expires } : null;
        return t ? t.value : null;
      }).finally(() => { this.tokenLoad = null; });
    }
    return this.tokenLoad;
  }

  // GET an uploaded file: with our token when it is on the upload
  // service's host (harmless for unlabelled files), plainly elsewhere.
  // Throws FileAccessError (xmpp/files.ts): kind 'not-cleared' on 403.
  async fetchFile(url: string): Promise<Response> {
    const svc = this.store.get().uploadService;
    return fileFetch(url, location.href, {
      fetch: (u, init) => fetch(u, init),
      token: (fresh) => this.downloadToken(fresh),
      tokenFor: (u) => !!svc && u.hostname === svc.jid,
    });
  }

  // The file as a blob: URL (image previews, downloads), fetched once.
  fileBlobUrl(url: string): Promise<string> {
    let p = this.blobs.get(url);
    if (!p) {
      p = this.fetchFile(url).then(async (r) => URL.createObjectURL(await r.blob()));
      p.catch(() => this.blobs.delete(url));
      this.blobs.set(url, p);
      // bounded: the oldest object URL is released
      if (this.blobs.size > 100) {
        const [first, old] = this.blobs.entries().next().value as [string, Promise<string>];
        this.blobs.delete(first);
        old.then((b) => URL.revokeObjectURL(b), () => undefined);
      }
    }
    return p;
  }

  dismissUpload(id: string): void {
    this.store.update((s) => ({ uploads: s.uploads.filter((u) => u.id !== id) }));
  }

  // For the debug console of the e2e test and for operators.
  rawSend(xml: string): void {
    const doc = new DOMParser().parseFromString(xml, 'text/xml');
    this.send(doc.documentElement);
  }
}

// PUT with progress events: fetch() has no upload progress, XHR does.
function putWithProgress(url: string, file: File, headers: Record<string, string>, progress: (n: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('PUT', url);
    x.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    for (const [k, v] of Object.entries(headers)) {
      try { x.setRequestHeader(k, v); } catch { /* forbidden header names (Cookie) are set by the browser */ }
    }
    x.upload.onprogress = (e) => progress(e.loaded);
    x.onload = () => (x.status >= 200 && x.status < 300 ? resolve() : reject(new Error(`upload refused (HTTP ${x.status})`)));
    x.onerror = () => reject(new Error('upload failed (network)'));
    x.send(file);
  });
}
