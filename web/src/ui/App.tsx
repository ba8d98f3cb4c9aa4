// The application shell: login until online once, then sidebar + main view,
// with notices and the data-form dialog on top.
import { useEffect, useState } from 'preact/hooks';
import type { Client } from '../client';
import { ChatView } from './Chat';
import { FormDialogView } from './Form';
import { useAppState } from './hooks';
import { Icon } from './Icon';
import { Login } from './Login';
import { Settings } from './Settings';
import { Sidebar } from './Sidebar';

export function App({ client }: { client: Client }) {
  const s = useAppState(client);
  const [navOpen, setNavOpen] = useState(false);
  const loggedIn = s.jid !== '' && (s.status !== 'offline' || s.statusText === 'Signed in elsewhere');
  // Alt+Up / Alt+Down: previous / next conversation, as in desktop chat apps.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!e.altKey || (e.key !== 'ArrowUp' && e.key !== 'ArrowDown')) return;
      const st = client.store.get();
      const list = [...Object.keys(st.roster).sort(), ...Object.keys(st.rooms)];
      if (list.length === 0) return;
      e.preventDefault();
      const i = st.active ? list.indexOf(st.active) : -1;
      const next = e.key === 'ArrowDown' ? (i + 1) % list.length : (i <= 0 ? list.length - 1 : i - 1);
      client.open(list[next]);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [client]);
  return (
    <div class="app">
      <a class="skip" href="#main">Skip to the conversation</a>
      {!loggedIn ? (
        <Login client={client} state={s} />
      ) : (
        <div class={'shell' + (navOpen ? ' nav-open' : '')}>
          <Sidebar client={client} state={s} onNavigate={() => setNavOpen(false)} />
          <main class="main" id="main">
            <button class="nav-toggle" aria-label="Show conversations" onClick={() => setNavOpen(!navOpen)}><Icon name="menu" /></button>
            {s.status !== 'online' && <div class="conn-banner" role="status">{s.statusText}</div>}
            {s.view === 'settings' ? <Settings client={client} state={s} /> :
              s.active ? <ChatView client={client} state={s} jid={s.active} key={s.active} /> :
              <div class="empty"><h1>Aldis</h1><p>Select a contact or a room to start.</p></div>}
          </main>
        </div>
      )}
      <div class="notices" role="status" aria-live="polite">
        {s.notices.map((n) => <div key={n.id} class={'notice ' + n.kind} data-testid={'notice-' + n.kind}>{n.text}</div>)}
      </div>
      {s.dialog && <FormDialogView dialog={s.dialog} />}
    </div>
  );
}
