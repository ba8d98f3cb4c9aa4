// A display marking in the policy's colours (XEP-0258 §3): the text and
// colours come from the label; the colours were filtered by safeColour.
import type { SecurityLabel } from '../xmpp/labels';

export function Marking({ label, banner }: { label: SecurityLabel | null; banner?: boolean }) {
  if (!label || !label.marking) return null;
  const m = label.marking;
  return (
    <span class={banner ? 'marking banner' : 'marking'} data-testid={banner ? 'room-banner' : 'marking'}
      role={banner ? 'note' : undefined} aria-label={`Classification: ${m.text}`}
      style={{ color: m.fg, backgroundColor: m.bg }}>
      {m.text}
    </span>
  );
}
