// One conversation: header (presence or room banner, search, room tools),
// the message list with infinite scroll backwards through the archive, and
// the composer with the label picker, replies, corrections and uploads.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { Client } from '../client';
import { conversationSearch, messageRefId, type ChatMessage } from '../state/chat';
import { threadIndex, threadReplyCount, threadRootOf } from '../state/threads';
import { presenceBest, type AppState } from '../state/store';
import { catalogDefault } from '../xmpp/labels';
import { Icon } from './Icon';
import { Marking } from './Marking';
import { MessageView } from './Message';
import { Occupants } from './Occupants';
import { PinnedBar, pinnedMessage } from './Pins';
import { ThreadPanel } from './Thread';

export function ChatView({ client, state: s, jid }: { client: Client; state: AppState; jid: string }) {
  const conv = s.conversations[jid];
  const room = s.rooms[jid];
  const listRef = useRef<HTMLDivElement>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const [text, setText] = useState('');
  const [replyTo, setReplyTo] = useState<ChatMessage | null>(null);
  const [editing, setEditing] = useState<ChatMessage | null>(null);
  const [search, setSearch] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [dragging, setDragging] = useState(false);
  const [showOccupants, setShowOccupants] = useState(true);
  const [threadRoot, setThreadRoot] = useState<string | null>(null);
  const threads = useMemo(() => (conv ? threadIndex(conv) : null), [conv?.messages]);
  const stick = useRef(true);
  const prevHeight = useRef(0);

  const catalog = s.catalogs[jid] ?? null;
  const choice = s.labelChoice[jid];
  const chosen = choice !== undefined && (choice === '' ? !catalog?.restrict : catalog?.items.some((i) => i.selector === choice))
    ? choice : catalogDefault(catalog)?.selector ?? '';

  // Keep the view at the bottom for new messages, and at the same place
  // when an older page is inserted above.
  useLayoutEffect(() => {
    const l = listRef.current;
    if (!l) return;
    if (stick.current) l.scrollTop = l.scrollHeight;
    else if (prevHeight.current && l.scrollHeight > prevHeight.current && l.scrollTop < 50) l.scrollTop += l.scrollHeight - prevHeight.current;
    prevHeight.current = l.scrollHeight;
  }, [conv?.messages]);

  useEffect(() => { inputRef.current?.focus(); setThreadRoot(null); }, [jid]);

  const onScroll = async () => {
    const l = listRef.current;
    if (!l || !conv) return;
    stick.current = l.scrollHeight - l.scrollTop - l.clientHeight < 40;
    if (l.scrollTop < 80 && !loading && !conv.mamComplete) {
      setLoading(true);
      prevHeight.current = l.scrollHeight;
      await client.loadHistory(jid);
      setLoading(false);
    }
    if (stick.current) client.markRead(jid);
  };

  if (!conv || !threads) return null;

  const send = () => {
    const body = text.trim();
    if (!body) return;
    void client.sendText(jid, body, { replyTo, editOf: editing });
    setText(''); setReplyTo(null); setEditing(null);
    stick.current = true;
  };

  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'Enter' && !e.shiftKey && s.prefs.enterSends) { e.preventDefault(); send(); return; }
    if (e.key === 'Escape') { setReplyTo(null); setEditing(null); return; }
    if (e.key === 'ArrowUp' && !text) {
      // Edit the last own message (as in most chat clients).
      const last = [...conv.messages].reverse().find((m) => m.outgoing && !m.retracted);
      if (last) { e.preventDefault(); setEditing(last); setText(last.body); }
    }
  };

  const files = (list: FileList | null | undefined) => {
    if (!list) return;
    for (const f of Array.from(list).slice(0, 10)) void client.upload(jid, f);
  };

  const contact = s.roster[jid];
  const pres = presenceBest(s, jid);
  const typing = Object.entries(conv.typing).filter(([, st]) => st === 'composing').map(([w]) => (room ? w : contact?.name || w));
  const results = search ? conversationSearch(conv, search) : null;
  // Messages of side threads show in the thread panel, not the timeline.
  const shown = results ?? conv.messages.filter((m) => !threads.inThread.has(m.id));
  const byId = new Map(conv.messages.map((m) => [m.stanzaId || m.id, m] as const));
  for (const m of conv.messages) byId.set(m.id, m);
  const uploads = s.uploads.filter((u) => u.conv === jid);
  const myRole = room ? room.occupants[room.nick]?.role || 'none' : '';
  const myAff = room ? room.occupants[room.nick]?.affiliation || 'none' : '';
  const canPin = !!room && room.pinsSupported && myRole === 'moderator';
  const pinnedIds = new Set(room ? room.pins.map((p) => p.id) : []);

  // Scroll to a pinned message, fetching it from the archive if needed.
  const jumpTo = async (id: string) => {
    if (!pinnedMessage(conv, id)) await client.fetchPinned(jid);
    const m = pinnedMessage(client.store.get().conversations[jid] || conv, id);
    if (!m) return client.notice('That message is not available', 'error');
    if (threads.inThread.has(m.id)) { setThreadRoot(threadRootOf(conv, threads, m)); return; }
    stick.current = false;
    requestAnimationFrame(() => {
      const e = listRef.current?.querySelector(`[data-id="${CSS.escape(m.id)}"]`) as HTMLElement | null;
      if (!e) return;
      e.scrollIntoView({ block: 'center' });
      e.classList.add('flash');
      e.focus();
      setTimeout(() => e.classList.remove('flash'), 2000);
    });
  };

  return (
    <section class={'chat' + (dragging ? ' dragging' : '')} aria-label={`Conversation with ${contact?.name || jid}`}
      onDragOver={(e) => { e.preventDefault(); setDragging(true); }} onDragLeave={() => setDragging(false)}
      onDrop={(e) => { e.preventDefault(); setDragging(false); files(e.dataTransfer?.files); }}>
      <header class="chat-head">
        <div class="chat-title">
          <h1>{room ? room.name || jid.split('@')[0] : contact?.name || jid}</h1>
          <span class="chat-sub">{room ? (conv.subject || jid) : pres ? (pres.status || pres.show || 'online') : 'offline'}</span>
        </div>
        <button class="icon" aria-label="Search in conversation" aria-pressed={search !== null} onClick={() => setSearch(search === null ? '' : null)}><Icon name="search" /></button>
        {room && <button class="icon" aria-label="Show occupants" aria-pressed={showOccupants} onClick={() => setShowOccupants(!showOccupants)}><Icon name="people" /></button>}
        {room && myAff === 'owner' && <button class="icon" aria-label="Configure room" onClick={() => void client.configureRoom(jid)}><Icon name="gear" /></button>}
        {room && <button class="icon" aria-label="Leave room" onClick={() => client.leaveRoom(jid)}><Icon name="leave" /></button>}
        {!room && contact && <button class="icon" aria-label="Remove contact" title="Remove contact"
          onClick={() => { if (confirm(`Remove ${jid} from your contacts?`)) client.removeContact(jid); }}><Icon name="leave" /></button>}
      </header>
      {room?.banner && <div class="banner-row"><Marking label={room.banner} banner /></div>}
      {room && <PinnedBar client={client} room={room} conv={conv} canPin={canPin} onJump={(id) => void jumpTo(id)} />}
      {search !== null && (
        <div class="search-row">
          <input aria-label="Search text" placeholder="Search this conversation" value={search} autoFocus
            onInput={(e) => setSearch((e.target as HTMLInputElement).value)} />
          <span>{results ? `${results.length} found` : ''}</span>
        </div>
      )}
      <div class="chat-body">
        <div class="messages" ref={listRef} onScroll={onScroll}
          onLoadCapture={() => { const l = listRef.current; if (l && stick.current) l.scrollTop = l.scrollHeight; }} role="log" aria-live="polite" aria-label="Messages" tabIndex={0}>
          {!conv.mamComplete && !search && (
            <button class="link load-more" onClick={async () => { setLoading(true); stick.current = false; await client.loadHistory(jid); setLoading(false); }}>
              {loading ? 'Loading…' : 'Load older messages'}
            </button>
          )}
          {shown.map((m) => (
            <MessageView key={m.id} client={client} conv={conv} m={m} me={room ? room.nick : s.me} isRoom={!!room}
              replied={m.replyTo ? byId.get(m.replyTo) || null : null}
              canModerate={myRole === 'moderator'}
              threadCount={threadReplyCount(threads.byRoot.get(messageRefId(conv, m)))}
              onThread={!room || m.stanzaId ? () => setThreadRoot(threadRootOf(conv, threads, m)) : undefined}
              pinned={!!m.stanzaId && pinnedIds.has(m.stanzaId)}
              onPin={canPin && m.stanzaId ? (on) => client.pin(jid, m, on) : undefined}
              onReply={() => { setReplyTo(m); inputRef.current?.focus(); }}
              onEdit={() => { setEditing(m); setText(m.body); inputRef.current?.focus(); }}
              rooms={Object.keys(s.rooms)} contacts={Object.keys(s.roster)} />
          ))}
        </div>
        {threadRoot !== null && (
          <ThreadPanel client={client} conv={conv} idx={threads} rootRef={threadRoot} me={room ? room.nick : s.me} isRoom={!!room}
            canModerate={myRole === 'moderator'} enterSends={s.prefs.enterSends} rooms={Object.keys(s.rooms)}
            contacts={Object.keys(s.roster)} onClose={() => { setThreadRoot(null); inputRef.current?.focus(); }} />
        )}
        {room && showOccupants && threadRoot === null && <Occupants client={client} room={room} />}
      </div>
      <div class="typing" aria-live="polite">{typing.length > 0 ? `${typing.join(', ')} ${typing.length > 1 ? 'are' : 'is'} typing…` : ''}</div>
      {uploads.map((u) => (
        <div class="upload" key={u.id} data-testid="upload">
          <span>{u.name}</span>
          <Marking label={u.label ?? null} />
          <progress max={u.size || 1} value={u.sent} aria-label={`Uploading ${u.name}`} />
          {u.error && <span class="error" role="alert" data-testid="upload-error">{u.error} <button class="link" onClick={() => client.dismissUpload(u.id)}>dismiss</button></span>}
        </div>
      ))}
      {(replyTo || editing) && (
        <div class="compose-context">
          {replyTo ? <>Replying to <b>{replyTo.author.split('@')[0]}</b>: {replyTo.body.slice(0, 80)}</> : <>Editing message</>}
          <button class="link" onClick={() => { setReplyTo(null); setEditing(null); setText(''); }}>cancel</button>
        </div>
      )}
      <form class="composer" onSubmit={(e) => { e.preventDefault(); send(); }}>
        {catalog && catalog.items.length > 0 && (
          <select class="label-picker" aria-label="Security label" data-testid="label-picker" value={chosen}
            onChange={(e) => client.chooseLabel(jid, (e.target as HTMLSelectElement).value)}
            style={(() => { const it = catalog.items.find((i) => i.selector === chosen); const m = it?.label?.marking; return m ? { color: m.fg, backgroundColor: m.bg } : {}; })()}>
            {!catalog.restrict && <option value="">(no label)</option>}
            {catalog.items.map((i) => <option key={i.selector} value={i.selector}>{i.label?.marking?.text || i.selector}</option>)}
          </select>
        )}
        <label class="icon attach" title="Attach files"><Icon name="attach" /><input type="file" multiple aria-label="Attach files" data-testid="file-input"
          onChange={(e) => { files((e.target as HTMLInputElement).files); (e.target as HTMLInputElement).value = ''; }} /></label>
        <textarea ref={inputRef} rows={1} aria-label="Message" placeholder={room && myRole === 'visitor' ? 'You have no voice in this room' : 'Write a message'}
          value={text} data-testid="composer"
          onInput={(e) => { setText((e.target as HTMLTextAreaElement).value); client.typing(jid); }}
          onKeyDown={onKey} onPaste={(e) => { if (e.clipboardData?.files.length) { e.preventDefault(); files(e.clipboardData.files); } }} />
        <button type="submit" class="primary" aria-label="Send" data-testid="send"><Icon name="send" /></button>
      </form>
    </section>
  );
}
