// The login screen: address, password and an optional server URL.
import { useState } from 'preact/hooks';
import type { Client } from '../client';
import type { AppState } from '../state/store';
import { isBareJid } from '../xmpp/jid';

export function Login({ client, state }: { client: Client; state: AppState }) {
  const [jid, setJid] = useState(localStorage.getItem('aldis.jid') || '');
  const [password, setPassword] = useState('');
  const [service, setService] = useState('');
  const [advanced, setAdvanced] = useState(false);
  const busy = state.status === 'connecting';
  const submit = (e: Event) => {
    e.preventDefault();
    if (!isBareJid(jid.trim())) return;
    try { localStorage.setItem('aldis.jid', jid.trim()); } catch { /* private mode */ }
    client.login({ jid: jid.trim(), password, service: service.trim() || undefined });
  };
  return (
    <form class="login" onSubmit={submit} aria-labelledby="login-title">
      <h1 id="login-title">Sign in to Aldis</h1>
      <label>Address<input name="jid" type="email" autocomplete="username" required value={jid}
        placeholder="you@example.org" onInput={(e) => setJid((e.target as HTMLInputElement).value)} /></label>
      <label>Password<input name="password" type="password" autocomplete="current-password" required value={password}
        onInput={(e) => setPassword((e.target as HTMLInputElement).value)} /></label>
      {advanced ? (
        <label>Server URL (WebSocket or BOSH)<input name="service" value={service} placeholder="wss://example.org/xmpp-websocket"
          onInput={(e) => setService((e.target as HTMLInputElement).value)} /></label>
      ) : (
        <button type="button" class="link" onClick={() => setAdvanced(true)}>Advanced</button>
      )}
      <button type="submit" class="primary" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
      {state.statusText && <p class="status" role="alert">{state.statusText}</p>}
    </form>
  );
}
