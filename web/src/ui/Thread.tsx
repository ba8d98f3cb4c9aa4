// The thread side panel (XEP-0201): the root message, its thread's
// messages (live and from the archive pages already loaded), and a
// composer whose messages carry the thread id and a reply to the root.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Client } from '../client';
import type { ChatMessage, Conversation } from '../state/chat';
import { threadIdNew, threadTarget, type ThreadIndex } from '../state/threads';
import { Icon } from './Icon';
import { MessageView } from './Message';

export function ThreadPanel(p: {
  client: Client; conv: Conversation; idx: ThreadIndex; rootRef: string; me: string; isRoom: boolean;
  canModerate: boolean; enterSends: boolean; rooms: string[]; contacts: string[]; onClose: () => void;
}) {
  const { client, conv, idx } = p;
  const [text, setText] = useState('');
  const [editing, setEditing] = useState<ChatMessage | null>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const listRef = useRef<HTMLDivElement>(null);
  const info = idx.byRoot.get(p.rootRef);
  const root = info?.root || conv.messages.find((m) => (m.stanzaId || m.id) === p.rootRef || m.id === p.rootRef) || null;
  const replies = info?.replies || [];

  useEffect(() => { inputRef.current?.focus(); }, [p.rootRef]);
  useEffect(() => {
    const l = listRef.current;
    if (l) l.scrollTop = l.scrollHeight;
  }, [replies.length]);

  const send = () => {
    const body = text.trim();
    if (!body) return;
    if (editing) {
      void client.sendText(conv.jid, body, { editOf: editing });
    } else {
      // Computed at send time: the first message of a new thread makes the
      // thread id that the following ones reuse (XEP-0201 §3.2).
      const target = threadTarget(conv, idx, p.rootRef, threadIdNew);
      if (!target) return;
      void client.sendText(conv.jid, body, { thread: target });
    }
    setText('');
    setEditing(null);
  };

  const view = (m: ChatMessage) => (
    <MessageView key={m.id} client={client} conv={conv} m={m} me={p.me} isRoom={p.isRoom} replied={null}
      canModerate={p.canModerate} rooms={p.rooms} contacts={p.contacts}
      onReply={() => inputRef.current?.focus()}
      onEdit={() => { setEditing(m); setText(m.body); inputRef.current?.focus(); }} />
  );

  return (
    <aside class="thread-panel" aria-label="Thread" data-testid="thread-panel">
      <header class="thread-head">
        <h2>Thread</h2>
        <button class="icon" aria-label="Close thread" onClick={p.onClose}><Icon name="close" /></button>
      </header>
      <div class="thread-messages" ref={listRef} role="log" aria-label="Thread messages" tabIndex={0}>
        {root ? view(root) : <p class="muted">The first message of this thread is not loaded.</p>}
        <div class="thread-sep" data-testid="thread-replies">
          {replies.length === 0 ? 'No replies yet' : `${replies.length} ${replies.length === 1 ? 'reply' : 'replies'}`}
        </div>
        {replies.map(view)}
      </div>
      {editing && (
        <div class="compose-context">Editing message
          <button class="link" onClick={() => { setEditing(null); setText(''); }}>cancel</button>
        </div>
      )}
      <form class="composer thread-composer" onSubmit={(e) => { e.preventDefault(); send(); }}>
        <textarea ref={inputRef} rows={1} aria-label="Reply in thread" placeholder="Reply in thread" value={text}
          data-testid="thread-composer"
          onInput={(e) => { setText((e.target as HTMLTextAreaElement).value); client.typing(conv.jid); }}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && p.enterSends) { e.preventDefault(); send(); }
            if (e.key === 'Escape') { if (editing) { setEditing(null); setText(''); } else p.onClose(); }
          }} />
        <button type="submit" class="primary" aria-label="Send in thread" data-testid="thread-send"><Icon name="send" /></button>
      </form>
    </aside>
  );
}
