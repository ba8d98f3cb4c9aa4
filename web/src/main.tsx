// Entry point: one Client, the theme applied to <html>, focus tracking for
// unread counts and read markers, and the app mounted.
import { render } from 'preact';
import { Client } from './client';
import { App } from './ui/App';
import { DEFAULT_PREFS, type Prefs } from './state/store';
import './styles.css';

const client = new Client();

try {
  const saved = JSON.parse(localStorage.getItem('aldis.prefs') || 'null') as Partial<Prefs> | null;
  if (saved && typeof saved === 'object') client.store.update(() => ({ prefs: { ...DEFAULT_PREFS, ...saved } }));
} catch {
  /* no saved preferences */
}

function applyTheme(): void {
  const t = client.store.get().prefs.theme;
  const dark = t === 'dark' || (t === 'system' && matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
}
applyTheme();
client.store.subscribe(applyTheme);
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', applyTheme);
window.addEventListener('focus', () => client.setFocused(true));
window.addEventListener('blur', () => client.setFocused(false));
window.addEventListener('online', () => client.reconnectNow());
window.addEventListener('pagehide', () => client.pageHide());

// The end-to-end test drives some steps through this handle.
(window as any).aldis = client;

render(<App client={client} />, document.getElementById('app')!);
// First screen painted: measured by the end-to-end test (issue 7: < 1 s).
requestAnimationFrame(() => setTimeout(() => performance.mark('aldis-first-screen'), 0));
