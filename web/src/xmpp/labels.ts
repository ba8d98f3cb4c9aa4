// XEP-0258 security labels: reading <securitylabel/> elements and catalogs,
// and echoing a chosen label back into outgoing stanzas. The client never
// interprets the label body (ESS or STANAG 4774): it shows the display
// marking in the policy's colours and sends the element as the catalog gave
// it, so the server's one decision function stays the only judge.
import { NS } from './ns';
import { attr, child, children, serialize, text, xmlParse } from './xml';

export interface DisplayMarking {
  text: string;
  fg: string;
  bg: string;
}

export interface SecurityLabel {
  marking: DisplayMarking | null;
  // The serialised <securitylabel/>, to send back unchanged (XEP-0258 §3).
  xml: string;
}

export interface CatalogItem {
  selector: string;
  isDefault: boolean;
  label: SecurityLabel | null; // null: "no label" entry
}

export interface Catalog {
  to: string;
  name: string;
  desc: string;
  restrict: boolean;
  items: CatalogItem[];
}

export const MAX_CATALOG_ITEMS = 256;
const MAX_MARKING = 200;

// Colours come from a peer: accept only names and hex forms, never CSS
// that could escape the style attribute.
export function safeColour(c: string | null, fallback: string): string {
  if (!c) return fallback;
  const v = c.trim();
  if (/^#[0-9a-fA-F]{3,8}$/.test(v) || /^[a-zA-Z]{1,30}$/.test(v)) return v;
  return fallback;
}

export function labelParse(e: Element | null): SecurityLabel | null {
  if (!e) return null;
  const dm = child(e, 'displaymarking');
  const marking = dm
    ? {
        text: text(dm).trim().slice(0, MAX_MARKING),
        fg: safeColour(attr(dm, 'fgcolor'), 'black'),
        bg: safeColour(attr(dm, 'bgcolor'), 'white'),
      }
    : null;
  return { marking: marking && marking.text ? marking : null, xml: serialize(e) };
}

export function labelFromStanza(stanza: Element): SecurityLabel | null {
  return labelParse(child(stanza, 'securitylabel', NS.SECLABEL));
}

// The element to attach to an outgoing stanza (a fresh copy each time).
export function labelElement(l: SecurityLabel): Element {
  return xmlParse(l.xml);
}

export function catalogParse(iqResult: Element): Catalog | null {
  const c = child(iqResult, 'catalog', NS.SECLABEL_CATALOG);
  if (!c) return null;
  const items: CatalogItem[] = [];
  for (const it of children(c, 'item').slice(0, MAX_CATALOG_ITEMS)) {
    const selector = attr(it, 'selector');
    if (!selector) continue;
    items.push({
      selector: selector.slice(0, 200),
      isDefault: attr(it, 'default') === 'true' || attr(it, 'default') === '1',
      label: labelParse(child(it, 'securitylabel', NS.SECLABEL)),
    });
  }
  const r = attr(c, 'restrict');
  return {
    to: attr(c, 'to') || '',
    name: attr(c, 'name') || '',
    desc: attr(c, 'desc') || '',
    restrict: r === 'true' || r === '1',
    items,
  };
}

// Which item the picker preselects: the catalog's default, else the first.
export function catalogDefault(c: Catalog | null): CatalogItem | null {
  if (!c || c.items.length === 0) return null;
  return c.items.find((i) => i.isDefault) || (c.restrict ? c.items[0] : null);
}
