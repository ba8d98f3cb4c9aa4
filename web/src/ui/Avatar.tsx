// An avatar from initials, coloured from a hash of the JID (XEP-0392-like
// consistent colour), with the presence dot.
export function hue(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
  return h % 360;
}

export function Avatar({ jid, name, show, url }: { jid: string; name?: string; show?: string | null; url?: string }) {
  const label = (name || jid).replace(/@.*/, '');
  const initials = label.slice(0, 2).toUpperCase();
  return (
    <span class="avatar" aria-hidden="true" style={{ backgroundColor: `hsl(${hue(jid)} 45% 40%)` }}>
      {url ? <img src={url} alt="" class="avatar-img" /> : initials}
      {show !== undefined && <span class={'dot ' + (show === null ? 'offline' : show || 'online')} />}
    </span>
  );
}
