// The navigation column: own status, contact requests, contacts with
// presence and unread counts, rooms and bookmarks, and the actions to add
// contacts, join or create rooms.
import { useState } from 'preact/hooks';
import type { Client } from '../client';
import { presenceBest, type AppState } from '../state/store';
import { isBareJid } from '../xmpp/jid';
import { Avatar } from './Avatar';
import { Icon } from './Icon';

const SHOWS: [string, string][] = [['', 'Available'], ['chat', 'Free to chat'], ['away', 'Away'], ['xa', 'Not available'], ['dnd', 'Do not disturb']];

export function Sidebar({ client, state: s, onNavigate }: { client: Client; state: AppState; onNavigate: () => void }) {
  const [adding, setAdding] = useState(false);
  const [newJid, setNewJid] = useState('');
  const [roomForm, setRoomForm] = useState<'join' | 'create' | null>(null);
  const [roomName, setRoomName] = useState('');
  const [persistent, setPersistent] = useState(true);
  const [status, setStatus] = useState(s.myStatus.status);
  const go = (jid: string) => { client.open(jid); onNavigate(); };
  const contacts = Object.values(s.roster).sort((a, b) => (a.name || a.jid).localeCompare(b.name || b.jid));
  const rooms = Object.values(s.rooms);
  const unreadOf = (jid: string) => s.conversations[jid]?.unread || 0;
  const otherChats = Object.values(s.conversations).filter((c) => c.kind === 'chat' && !s.roster[c.jid] && c.messages.length > 0);

  return (
    <nav class="sidebar" aria-label="Conversations">
      <header class="me">
        <Avatar jid={s.me} show={s.myStatus.show} url={s.avatars[s.me]} />
        <div class="me-text">
          <div class="me-jid" title={s.jid}>{s.me}</div>
          <select aria-label="Your availability" value={s.myStatus.show} onChange={(e) => client.sendPresence((e.target as HTMLSelectElement).value, status)}>
            {SHOWS.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
          </select>
          <input class="status-msg" aria-label="Status message" placeholder="Status message" value={status}
            onInput={(e) => setStatus((e.target as HTMLInputElement).value)}
            onKeyDown={(e) => { if (e.key === 'Enter') client.sendPresence(s.myStatus.show, status); }} />
        </div>
        <button class="icon" aria-label="Settings" title="Settings" onClick={() => { client.store.update(() => ({ view: 'settings' })); onNavigate(); }}><Icon name="gear" /></button>
      </header>

      {s.requests.length > 0 && (
        <section aria-label="Contact requests">
          <h2>Requests</h2>
          <ul>
            {s.requests.map((r) => (
              <li key={r} class="request" data-testid="request">
                <span>{r}</span>
                <button onClick={() => client.answerRequest(r, true)} data-testid="accept">Accept</button>
                <button onClick={() => client.answerRequest(r, false)}>Decline</button>
              </li>
            ))}
          </ul>
        </section>
      )}

      <section aria-labelledby="contacts-h">
        <h2 id="contacts-h">Contacts <button class="icon" aria-label="Add contact" data-testid="add-contact" onClick={() => setAdding(!adding)}><Icon name="plus" /></button></h2>
        {adding && (
          <form class="inline-form" onSubmit={(e) => { e.preventDefault(); if (isBareJid(newJid.trim())) { client.addContact(newJid.trim(), ''); setNewJid(''); setAdding(false); } }}>
            <input aria-label="Contact address" placeholder="name@example.org" value={newJid} data-testid="add-contact-jid"
              onInput={(e) => setNewJid((e.target as HTMLInputElement).value)} />
            <button type="submit">Add</button>
          </form>
        )}
        <ul role="list">
          {contacts.map((c) => {
            const p = presenceBest(s, c.jid);
            const u = unreadOf(c.jid);
            return (
              <li key={c.jid}>
                <button class={'entry' + (s.active === c.jid ? ' active' : '')} onClick={() => go(c.jid)} data-testid="contact" data-jid={c.jid}
                  aria-current={s.active === c.jid ? 'page' : undefined}>
                  <Avatar jid={c.jid} name={c.name} show={p ? p.show : null} url={s.avatars[c.jid]} />
                  <span class="entry-text">
                    <span class="entry-name">{c.name || c.jid}</span>
                    <span class="entry-sub">{c.subscription === 'both' ? (p?.status || (p ? 'online' : 'offline')) : c.ask ? 'request sent' : `subscription: ${c.subscription}`}</span>
                  </span>
                  {u > 0 && <span class="badge" data-testid="unread" aria-label={`${u} unread`}>{u}</span>}
                </button>
              </li>
            );
          })}
          {otherChats.map((c) => (
            <li key={c.jid}>
              <button class={'entry' + (s.active === c.jid ? ' active' : '')} onClick={() => go(c.jid)} data-testid="contact" data-jid={c.jid}>
                <Avatar jid={c.jid} /><span class="entry-text"><span class="entry-name">{c.jid}</span><span class="entry-sub">not in contacts</span></span>
                {c.unread > 0 && <span class="badge" data-testid="unread">{c.unread}</span>}
              </button>
            </li>
          ))}
        </ul>
      </section>

      <section aria-labelledby="rooms-h">
        <h2 id="rooms-h">Rooms
          <button class="icon" aria-label="Join a room" title="Join a room" data-testid="join-room" onClick={() => { setRoomForm(roomForm === 'join' ? null : 'join'); void client.browseRooms(); }}><Icon name="join" /></button>
          <button class="icon" aria-label="Create a room" title="Create a room" data-testid="create-room" onClick={() => setRoomForm(roomForm === 'create' ? null : 'create')}><Icon name="plus" /></button>
        </h2>
        {roomForm && (
          <form class="inline-form" onSubmit={(e) => {
            e.preventDefault();
            const v = roomName.trim();
            if (!v) return;
            if (roomForm === 'create') client.createRoom(v, client.defaultNick(), { persistent, membersOnly: false, bookmark: true });
            else {
              const jid = v.includes('@') ? v : `${v}@${s.mucService}`;
              client.joinRoom(jid, client.defaultNick());
              client.saveBookmark({ jid: jid.toLowerCase(), name: '', autojoin: true, nick: client.defaultNick(), password: '' });
              client.open(jid.toLowerCase());
            }
            setRoomName(''); setRoomForm(null); onNavigate();
          }}>
            <input aria-label={roomForm === 'create' ? 'New room name' : 'Room address'} value={roomName} data-testid="room-name"
              placeholder={roomForm === 'create' ? 'Room name' : `room@${s.mucService || 'conference.example.org'}`}
              list="public-rooms" onInput={(e) => setRoomName((e.target as HTMLInputElement).value)} />
            {roomForm === 'create' && <label class="check"><input type="checkbox" checked={persistent} onChange={() => setPersistent(!persistent)} /> persistent</label>}
            <button type="submit" data-testid="room-submit">{roomForm === 'create' ? 'Create' : 'Join'}</button>
            <datalist id="public-rooms">{s.publicRooms.map((r) => <option key={r.jid} value={r.jid}>{r.name}</option>)}</datalist>
            {roomForm === 'join' && s.publicRooms.length > 0 && (
              <ul class="public-rooms" aria-label="Public rooms">
                {s.publicRooms.slice(0, 50).map((r) => <li key={r.jid}><button type="button" class="link" onClick={() => setRoomName(r.jid)}>{r.name || r.jid}</button></li>)}
              </ul>
            )}
          </form>
        )}
        <ul role="list">
          {rooms.map((r) => {
            const u = unreadOf(r.jid);
            return (
              <li key={r.jid}>
                <button class={'entry' + (s.active === r.jid ? ' active' : '')} onClick={() => go(r.jid)} data-testid="room" data-jid={r.jid}
                  aria-current={s.active === r.jid ? 'page' : undefined}>
                  <span class="avatar room" aria-hidden="true">#</span>
                  <span class="entry-text"><span class="entry-name">{r.name || r.jid.split('@')[0]}</span>
                    <span class="entry-sub">{r.joined ? `${Object.keys(r.occupants).length} present` : r.joining ? 'joining…' : r.error || 'not joined'}</span></span>
                  {u > 0 && <span class="badge" data-testid="unread">{u}</span>}
                </button>
              </li>
            );
          })}
          {s.bookmarks.filter((b) => !s.rooms[b.jid]).map((b) => (
            <li key={b.jid}>
              <button class="entry" onClick={() => { client.joinRoom(b.jid, b.nick || client.defaultNick(), b.password || null); go(b.jid); }}>
                <span class="avatar room" aria-hidden="true">#</span>
                <span class="entry-text"><span class="entry-name">{b.name || b.jid}</span><span class="entry-sub">bookmark</span></span>
              </button>
            </li>
          ))}
        </ul>
      </section>
      <footer class="sidebar-foot">
        <span class="transport" title="Transport">{s.transport === 'bosh' ? 'BOSH' : 'WebSocket'}</span>
        <button class="link" onClick={() => client.logout()}>Sign out</button>
      </footer>
    </nav>
  );
}
