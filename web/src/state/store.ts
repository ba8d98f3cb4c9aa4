// The application state and a tiny observable store. One object, replaced
// on every change (never mutated), so the UI can re-render from it.
import type { Catalog, SecurityLabel } from '../xmpp/labels';
import type { Bookmark, Occupant, Pin, RosterItem } from '../xmpp/stanzas';
import type { DataForm } from '../xmpp/forms';
import type { Conversation } from './chat';

export interface ResourcePresence {
  show: string;
  status: string;
  priority: number;
}

export interface Room {
  jid: string;
  nick: string;
  joined: boolean;
  joining: boolean;
  occupants: Record<string, Occupant>;
  name: string;
  banner: SecurityLabel | null;
  error: string | null;
  mam: boolean; // the room keeps an archive (XEP-0313 in its disco#info)
  pinsSupported: boolean; // urn:aldis:pin:0 in its disco#info
  pins: Pin[]; // oldest first, as the room keeps them
}

export interface Upload {
  id: string;
  name: string;
  size: number;
  sent: number;
  error: string | null;
  done: boolean;
  conv: string;
  label?: SecurityLabel | null; // the label the file is uploaded under
}

export interface Notice {
  id: number;
  kind: 'info' | 'error';
  text: string;
}

export interface FormDialog {
  id: string;
  title: string;
  form: DataForm;
  // called with the submitted values, or null on cancel
  submit: (values: Record<string, string[]> | null) => void;
}

export interface Prefs {
  theme: 'system' | 'light' | 'dark';
  notifications: boolean;
  sendTyping: boolean;
  sendMarkers: boolean;
  enterSends: boolean;
}

export const DEFAULT_PREFS: Prefs = { theme: 'system', notifications: false, sendTyping: true, sendMarkers: true, enterSends: true };

export interface AppState {
  status: 'offline' | 'connecting' | 'online' | 'reconnecting';
  statusText: string;
  transport: 'websocket' | 'bosh' | '';
  jid: string; // full JID once bound
  me: string; // bare
  roster: Record<string, RosterItem>;
  presence: Record<string, Record<string, ResourcePresence>>;
  requests: string[]; // bare JIDs asking to subscribe to us
  conversations: Record<string, Conversation>;
  active: string | null;
  rooms: Record<string, Room>;
  bookmarks: Bookmark[];
  catalogs: Record<string, Catalog | null>;
  labelChoice: Record<string, string>; // conv -> selector chosen
  uploadService: { jid: string; maxSize: number; auth: boolean } | null; // auth: download tokens offered
  mucService: string | null;
  publicRooms: { jid: string; name: string }[];
  uploads: Upload[];
  prefs: Prefs;
  notices: Notice[];
  dialog: FormDialog | null;
  myStatus: { show: string; status: string };
  view: 'chat' | 'settings' | 'rooms' | 'contacts';
  avatars: Record<string, string>; // bare JID -> data: URI
}

export function stateInitial(): AppState {
  return {
    status: 'offline', statusText: '', transport: '', jid: '', me: '',
    roster: {}, presence: {}, requests: [], conversations: {}, active: null, rooms: {},
    bookmarks: [], catalogs: {}, labelChoice: {}, uploadService: null, mucService: null, publicRooms: [],
    uploads: [], prefs: { ...DEFAULT_PREFS }, notices: [], dialog: null,
    myStatus: { show: '', status: '' }, view: 'chat', avatars: {},
  };
}

type Listener = (s: AppState) => void;

export class Store {
  private s: AppState = stateInitial();
  private listeners = new Set<Listener>();
  private scheduled = false;

  get(): AppState {
    return this.s;
  }

  update(fn: (s: AppState) => Partial<AppState>): void {
    this.s = { ...this.s, ...fn(this.s) };
    // Many stanzas can arrive in one frame (archive pages): render once.
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        for (const l of this.listeners) l(this.s);
      });
    }
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}

// Presence of a contact: the best resource (highest priority, then most
// available show), or null when offline.
export function presenceBest(s: AppState, jid: string): ResourcePresence | null {
  const rs = Object.values(s.presence[jid] || {});
  if (rs.length === 0) return null;
  const rank: Record<string, number> = { chat: 5, '': 4, away: 3, xa: 2, dnd: 1 };
  return rs.sort((a, b) => b.priority - a.priority || (rank[b.show] ?? 0) - (rank[a.show] ?? 0))[0];
}
