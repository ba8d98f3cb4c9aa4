// Settings: theme, notifications, typing and read markers, Enter to send.
// Stored with XEP-0223 on the server so they follow the user.
import { useState } from 'preact/hooks';
import type { Client } from '../client';
import type { AppState } from '../state/store';
import { domain } from '../xmpp/jid';

export function Settings({ client, state: s }: { client: Client; state: AppState }) {
  const p = s.prefs;
  const [commands, setCommands] = useState<{ node: string; name: string }[] | null>(null);
  const listCommands = async () => {
    try { setCommands(await client.listCommands(domain(s.jid))); } catch (e) { client.notice('No commands: ' + (e as Error).message, 'error'); }
  };
  const askNotify = async (on: boolean) => {
    if (on && typeof Notification !== 'undefined' && Notification.permission !== 'granted') {
      const r = await Notification.requestPermission();
      if (r !== 'granted') { client.notice('Notifications are blocked by the browser', 'error'); return; }
    }
    client.setPrefs({ notifications: on });
  };
  return (
    <section class="settings" aria-labelledby="settings-h">
      <header class="chat-head"><h1 id="settings-h">Settings</h1>
        <button class="link" onClick={() => client.store.update(() => ({ view: 'chat' }))}>Close</button></header>
      <fieldset>
        <legend>Theme</legend>
        {(['system', 'light', 'dark'] as const).map((t) => (
          <label class="check" key={t}><input type="radio" name="theme" value={t} checked={p.theme === t} data-testid={'theme-' + t}
            onChange={() => client.setPrefs({ theme: t })} /> {t[0].toUpperCase() + t.slice(1)}</label>
        ))}
      </fieldset>
      <fieldset>
        <legend>Behaviour</legend>
        <label class="check"><input type="checkbox" checked={p.notifications} onChange={(e) => void askNotify((e.target as HTMLInputElement).checked)} /> Desktop notifications</label>
        <label class="check"><input type="checkbox" checked={p.sendTyping} onChange={(e) => client.setPrefs({ sendTyping: (e.target as HTMLInputElement).checked })} /> Tell others when I am typing</label>
        <label class="check"><input type="checkbox" checked={p.sendMarkers} onChange={(e) => client.setPrefs({ sendMarkers: (e.target as HTMLInputElement).checked })} /> Send read markers</label>
        <label class="check"><input type="checkbox" checked={p.enterSends} onChange={(e) => client.setPrefs({ enterSends: (e.target as HTMLInputElement).checked })} /> Enter sends (Shift+Enter for a new line)</label>
      </fieldset>
      <fieldset>
        <legend>Avatar</legend>
        <label>Picture (PNG, JPEG, GIF or WebP, up to 512 KB)
          <input type="file" accept="image/png,image/jpeg,image/gif,image/webp" data-testid="avatar-input"
            onChange={(e) => { const f = (e.target as HTMLInputElement).files?.[0]; if (f) void client.setAvatar(f); }} /></label>
      </fieldset>
      <fieldset>
        <legend>Server commands (XEP-0050)</legend>
        {commands === null ? <button onClick={() => void listCommands()} data-testid="list-commands">Show the commands I may run</button> :
          commands.length === 0 ? <p class="muted">No commands available.</p> :
          <ul class="commands">{commands.map((c) => (
            <li key={c.node}><button class="link" onClick={() => client.runCommand(domain(s.jid), c.node).catch((e) => client.notice(e.message, 'error'))}>{c.name}</button></li>
          ))}</ul>}
      </fieldset>
      <p class="muted">Signed in as {s.jid} over {s.transport === 'bosh' ? 'BOSH' : 'WebSocket'}.</p>
    </section>
  );
}
