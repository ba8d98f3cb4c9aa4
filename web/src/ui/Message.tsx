// One message: author, time, marking in the policy's colours, body (or the
// retraction note), reply context, attachment with image preview, reactions
// and receipts, and the actions (reply, react, edit, retract, forward).
import { useEffect, useState } from 'preact/hooks';
import type { Client } from '../client';
import type { ChatMessage, Conversation } from '../state/chat';
import { fileErrorText, fileNotCleared } from '../xmpp/files';
import type { SecurityLabel } from '../xmpp/labels';
import { FormInline } from './Form';
import { Icon } from './Icon';
import { Marking } from './Marking';

const QUICK = ['👍', '❤️', '😂', '😮', '🎉', '👀'];
const IMAGE = /\.(png|jpe?g|gif|webp|avif)(\?|$)/i;

function time(ms: number): string {
  const d = new Date(ms);
  const today = new Date();
  const t = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toDateString() === today.toDateString() ? t : `${d.toLocaleDateString()} ${t}`;
}

// Links in bodies: only http(s), shown as text otherwise.
function linkify(body: string) {
  const parts = body.split(/(https?:\/\/[^\s<>"]+)/g);
  return parts.map((p, i) => (i % 2 === 1 ? <a key={i} href={p} target="_blank" rel="noopener noreferrer">{p}</a> : p));
}

// An uploaded file: fetched through the client (labelled files need its
// download token, so a plain <img src> or link would get 401), previewed
// from a blob: URL when it is an image, saved from one when clicked. A file
// the reader is not cleared for (403) becomes a card saying so, with the
// marking of the message that shared it, never a broken image.
function Attachment({ client, url, label }: { client: Client; url: string; label: SecurityLabel | null }) {
  const [src, setSrc] = useState<string | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const image = IMAGE.test(url);
  const last = url.split('?')[0].split('/').pop() || 'file';
  let name = last;
  try { name = decodeURIComponent(last); } catch { /* not percent-encoded: shown as is */ }
  useEffect(() => {
    setSrc(null);
    setErr(null);
    if (!image) return;
    let live = true;
    client.fileBlobUrl(url).then((b) => live && setSrc(b), (e: unknown) => live && setErr(e));
    return () => { live = false; };
  }, [url]);
  const save = async (e: MouseEvent) => {
    e.preventDefault();
    try {
      const a = document.createElement('a');
      a.href = await client.fileBlobUrl(url);
      a.download = name;
      a.click();
    } catch (x) {
      if (fileNotCleared(x)) setErr(x);
      else client.notice(`Download failed: ${(x as Error).message}`, 'error');
    }
  };
  if (fileNotCleared(err)) {
    return (
      <div class="attachment denied" role="note" data-testid="attachment-denied">
        <span class="denied-icon"><Icon name="lock" /></span>
        <span><b>{fileErrorText(err, label)}</b><br /><span class="muted">{name}</span></span>
      </div>
    );
  }
  return (
    <div class="attachment">
      {src && <img src={src} alt={`attached image ${name}`} class="preview" data-testid="image-preview" />}
      {err !== null && <span class="muted" data-testid="attachment-error">{fileErrorText(err, label)}</span>}
      <a href={url} target="_blank" rel="noopener noreferrer" onClick={save} data-testid="attachment-link">{name}</a>
    </div>
  );
}

const DELIVERY: Record<string, string> = { sending: '…', sent: '✓', received: '✓✓', displayed: '✓✓ read', error: '⚠' };

export function MessageView(p: {
  client: Client; conv: Conversation; m: ChatMessage; me: string; isRoom: boolean; replied: ChatMessage | null;
  canModerate: boolean; onReply: () => void; onEdit: () => void; rooms: string[]; contacts: string[];
  // threads (XEP-0201): replies under this root, and opening its thread
  threadCount?: number; onThread?: () => void;
  // pins (urn:aldis:pin:0): shown as pinned; onPin only for moderators
  pinned?: boolean; onPin?: (on: boolean) => void;
}) {
  const { client, conv, m } = p;
  const [menu, setMenu] = useState<null | 'react' | 'forward'>(null);
  const author = p.isRoom ? m.author : m.author.split('@')[0];
  return (
    <article class={'msg' + (m.outgoing ? ' out' : '') + (m.delivery === 'error' ? ' failed' : '') + (p.pinned ? ' pinned' : '')} data-testid="message"
      data-id={m.id} data-sid={m.stanzaId || undefined} aria-label={`${author}: ${m.retracted ? 'retracted' : m.body}`} tabIndex={-1}>
      <header class="msg-head">
        <b class="author">{author}</b>
        <time dateTime={new Date(m.stamp).toISOString()}>{time(m.stamp)}</time>
        <Marking label={m.label} />
        {m.edited && <span class="edited">(edited)</span>}
        {p.pinned && <span class="pinned-tag" data-testid="pinned-tag">Pinned</span>}
      </header>
      {p.replied && <blockquote class="reply-ctx">↪ {p.replied.author.split('@')[0]}: {p.replied.body.slice(0, 120)}</blockquote>}
      {m.forwarded && <blockquote class="forwarded">Forwarded from {m.forwarded.author}: {m.forwarded.body}</blockquote>}
      {m.retracted ? <p class="retracted">This message was retracted.</p> : (
        m.oobUrl && m.body.trim() === m.oobUrl ? (
          <Attachment client={client} url={m.oobUrl} label={m.label} />
        ) : <p class="body" data-testid="body">{linkify(m.body)}</p>
      )}
      {m.invite && <p class="invite">Invitation to <button class="link" onClick={() => { client.joinRoom(m.invite!.room, client.defaultNick(), m.invite!.password); client.open(m.invite!.room); }}>{m.invite.room}</button>{m.invite.reason ? `: ${m.invite.reason}` : ''}</p>}
      {m.form && m.form.type === 'form' && <FormInline form={m.form} onSubmit={(v) => client.replyForm(conv.jid, m.form!, v)} />}
      {m.error && <p class="error" role="alert" data-testid="send-error">Not delivered: {m.error}</p>}
      {Object.keys(m.reactions).length > 0 && (
        <div class="reactions" data-testid="reactions">
          {Object.entries(m.reactions).map(([e, who]) => (
            <button key={e} class={'reaction' + (who.includes(p.me) ? ' mine' : '')} title={who.join(', ')}
              aria-label={`${e} by ${who.join(', ')}`} onClick={() => client.react(conv.jid, m, e)}>{e} {who.length}</button>
          ))}
        </div>
      )}
      {!!p.threadCount && p.onThread && (
        <button class="link thread-count" data-testid="thread-count" onClick={p.onThread}>
          {p.threadCount} {p.threadCount === 1 ? 'reply' : 'replies'} in thread
        </button>
      )}
      <footer class="msg-actions">
        {m.outgoing && !p.isRoom && <span class="delivery" data-testid="delivery" data-state={m.delivery} aria-label={`delivery: ${m.delivery}`}>{DELIVERY[m.delivery]}</span>}
        {!m.retracted && <>
          <button class="link" onClick={p.onReply}>Reply</button>
          <button class="link" aria-expanded={menu === 'react'} data-testid="react" onClick={() => setMenu(menu === 'react' ? null : 'react')}>React</button>
          {p.onThread && <button class="link" data-testid="reply-thread" title="Reply in a thread" onClick={p.onThread}>Thread</button>}
          {p.onPin && <button class="link" data-testid={p.pinned ? 'unpin' : 'pin'} onClick={() => p.onPin!(!p.pinned)}>{p.pinned ? 'Unpin' : 'Pin'}</button>}
          <button class="link" aria-expanded={menu === 'forward'} onClick={() => setMenu(menu === 'forward' ? null : 'forward')}>Forward</button>
          {m.outgoing && <button class="link" onClick={p.onEdit}>Edit</button>}
          {m.outgoing && <button class="link" onClick={() => client.retract(conv.jid, m)}>Retract</button>}
          {p.isRoom && p.canModerate && !m.outgoing && <button class="link" onClick={() => client.moderate(conv.jid, { nick: m.author, role: 'none' }, 'kicked by a moderator')}>Kick</button>}
        </>}
      </footer>
      {menu === 'react' && (
        <div class="picker" role="menu" aria-label="Reactions">
          {QUICK.map((e) => <button key={e} role="menuitem" data-testid="reaction-option" onClick={() => { client.react(conv.jid, m, e); setMenu(null); }}>{e}</button>)}
        </div>
      )}
      {menu === 'forward' && (
        <div class="picker" role="menu" aria-label="Forward to">
          {[...p.contacts, ...p.rooms].filter((j) => j !== conv.jid).slice(0, 30).map((j) => (
            <button key={j} role="menuitem" onClick={() => { client.forward(m, conv.jid, j); setMenu(null); }}>{j}</button>
          ))}
        </div>
      )}
    </article>
  );
}
