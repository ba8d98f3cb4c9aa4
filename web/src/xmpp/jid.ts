// JID helpers (RFC 7622): split and compare. The server normalises JIDs; the
// client only needs to compare bare forms case-insensitively in the parts
// that are case-insensitive (local and domain).
export function bare(jid: string): string {
  const slash = jid.indexOf('/');
  return (slash < 0 ? jid : jid.slice(0, slash)).toLowerCase();
}

export function resource(jid: string): string {
  const slash = jid.indexOf('/');
  return slash < 0 ? '' : jid.slice(slash + 1);
}

export function domain(jid: string): string {
  const b = bare(jid);
  const at = b.indexOf('@');
  return at < 0 ? b : b.slice(at + 1);
}

export function local(jid: string): string {
  const b = bare(jid);
  const at = b.indexOf('@');
  return at < 0 ? '' : b.slice(0, at);
}

// A plausible bare JID typed by a user: local@domain, no spaces, bounded.
export function isBareJid(s: string): boolean {
  return s.length <= 3071 && /^[^@/\s"&'<>:]+@[^@/\s]+$/.test(s);
}
