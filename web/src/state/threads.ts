// Threads (XEP-0201): which messages of a conversation form a side thread
// hanging off a root message, and what a reply in a thread carries. Pure,
// unit-tested.
//
// XEP-0201 gives a thread an id (<thread/>) and, for a thread branched
// from another, a 'parent' (§3.3); it has no notion of the message a
// thread starts from. We link the two with a XEP-0461 reply: every message
// we send in a thread carries the thread id and a <reply/> to the root. A
// thread id whose messages reply to a message outside the thread is a side
// thread of that message: its messages leave the main timeline and show in
// the thread panel, and the root shows the reply count. Thread ids with no
// such root (a 1:1 "session" thread other clients put on every message)
// stay in the timeline, so nothing is ever hidden without a visible root.
import { messageRefId, type ChatMessage, type Conversation } from './chat';

export interface ThreadInfo {
  root: ChatMessage;
  rootRef: string; // messageRefId of the root
  threadId: string; // the id replies use: the first thread seen on this root
  parent: string | null; // the root's own thread: the parent of ours (§3.3)
  replies: ChatMessage[]; // time order
}

export interface ThreadIndex {
  byRoot: Map<string, ThreadInfo>; // root ref -> thread
  rootOf: Map<string, string>; // thread id -> root ref
  inThread: Set<string>; // ChatMessage.id of messages shown only in a thread
}

export function threadIndex(c: Conversation): ThreadIndex {
  const byRef = new Map<string, ChatMessage>();
  for (const m of c.messages) {
    byRef.set(m.id, m);
    if (m.stanzaId) byRef.set(m.stanzaId, m);
  }
  const byRoot = new Map<string, ThreadInfo>();
  const rootOf = new Map<string, string>();
  const inThread = new Set<string>();
  // Messages are in time order, so a root is seen before the replies that
  // link it, and a thread is attached to the first root it replies to.
  for (const m of c.messages) {
    if (!m.thread || rootOf.has(m.thread) || !m.replyTo) continue;
    let target = byRef.get(m.replyTo);
    if (!target || target.thread === m.thread) continue;
    // A thread started from a message that is itself in a side thread
    // joins that thread's root: threads are one level deep on screen.
    const outer = target.thread ? rootOf.get(target.thread) : undefined;
    if (outer) target = byRoot.get(outer)!.root;
    const rootRef = messageRefId(c, target);
    rootOf.set(m.thread, rootRef);
    if (!byRoot.has(rootRef)) {
      byRoot.set(rootRef, { root: target, rootRef, threadId: m.thread, parent: target.thread, replies: [] });
    }
  }
  for (const m of c.messages) {
    const rootRef = m.thread ? rootOf.get(m.thread) : undefined;
    if (!rootRef) continue;
    const t = byRoot.get(rootRef)!;
    if (m === t.root) continue;
    t.replies.push(m);
    inThread.add(m.id);
  }
  return { byRoot, rootOf, inThread };
}

// Replies shown under the root ("3 replies"): retracted ones do not count.
export function threadReplyCount(t: ThreadInfo | undefined): number {
  return t ? t.replies.filter((m) => !m.retracted).length : 0;
}

// The thread root a message belongs to, or the message itself.
export function threadRootOf(c: Conversation, idx: ThreadIndex, m: ChatMessage): string {
  const own = m.thread && idx.inThread.has(m.id) ? idx.rootOf.get(m.thread) : undefined;
  return own ?? messageRefId(c, m);
}

export interface ThreadTarget {
  rootRef: string;
  root: ChatMessage;
  thread: string; // the <thread/> to send
  parent: string | null; // its 'parent' attribute
}

// What a message sent in the thread of `rootRef` carries: the existing
// thread's id (XEP-0201 §3.2: a reply keeps the thread), or a new one for
// a new thread, with the root's own thread as its parent (§3.3).
export function threadTarget(c: Conversation, idx: ThreadIndex, rootRef: string, newId: () => string): ThreadTarget | null {
  const t = idx.byRoot.get(rootRef);
  if (t) return { rootRef, root: t.root, thread: t.threadId, parent: t.parent };
  const root = c.messages.find((m) => messageRefId(c, m) === rootRef || m.id === rootRef);
  if (!root) return null;
  return { rootRef: messageRefId(c, root), root, thread: newId(), parent: root.thread };
}

// A fresh thread id: XEP-0201 §3.2 wants it unique and revealing nothing
// about its creator, so random (a v4 UUID where the browser offers one).
export function threadIdNew(): string {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID();
  const b = new Uint8Array(16);
  if (c) c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
