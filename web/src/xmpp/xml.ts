// A small XML toolkit for stanzas: build elements (with `xmlns` written as
// an attribute, the way Strophe serialises them) and read received ones.
// Pure DOM: it runs on the browser's DOM and, in unit tests, on xmldom.

type Attrs = Record<string, string | number | boolean | undefined | null>;
export type Child = Element | string | null | undefined | false;

let doc: Document | null = null;
let parser: { parseFromString(s: string, type: string): Document } | null = null;
let serializer: { serializeToString(n: Node): string } | null = null;

// Tests inject xmldom's document, parser and serialiser; the browser uses
// its own.
export function xmlSetDom(d: Document, p: { parseFromString(s: string, type: string): any },
                          ser: { serializeToString(n: any): string }): void {
  doc = d;
  parser = p;
  serializer = ser;
}

function xmlDoc(): Document {
  if (!doc) doc = document.implementation.createDocument('jabber:client', 'x', null);
  return doc;
}

export function xmlParse(text: string): Element {
  if (!parser) parser = new DOMParser();
  const d = parser.parseFromString(text, 'text/xml');
  const root = d.documentElement;
  if (!root || root.nodeName === 'parsererror') throw new Error('bad XML');
  return root;
}

// el('message', {to, type: 'chat'}, el('body', {}, 'hi'))
export function el(name: string, attrs: Attrs = {}, ...children: (Child | Child[])[]): Element {
  const e = xmlDoc().createElement(name);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    e.setAttribute(k, v === true ? 'true' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    if (typeof c === 'string') e.appendChild(xmlDoc().createTextNode(c));
    else e.appendChild(c);
  }
  return e;
}

// The namespace of an element: the parsed one, or the nearest xmlns
// attribute for elements we built ourselves.
export function nsOf(e: Element): string | null {
  if (e.namespaceURI) return e.namespaceURI;
  for (let n: Node | null = e; n && n.nodeType === 1; n = n.parentNode) {
    const x = (n as Element).getAttribute('xmlns');
    if (x) return x;
  }
  return null;
}

function localName(e: Element): string {
  return e.localName || e.nodeName.replace(/^.*:/, '');
}

export function children(e: Element, name?: string, ns?: string): Element[] {
  const out: Element[] = [];
  const nodes = e.childNodes;
  for (let i = 0; i < nodes.length; i++) {
    const c = nodes[i];
    if (c.nodeType !== 1) continue;
    const ce = c as Element;
    if (name && localName(ce) !== name) continue;
    if (ns && nsOf(ce) !== ns) continue;
    out.push(ce);
  }
  return out;
}

export function child(e: Element | null | undefined, name?: string, ns?: string): Element | null {
  if (!e) return null;
  return children(e, name, ns)[0] || null;
}

// A child found by namespace only (chat states, markers).
export function childNs(e: Element, ns: string): Element | null {
  return children(e).find((c) => nsOf(c) === ns) || null;
}

export function text(e: Element | null | undefined): string {
  return e ? e.textContent || '' : '';
}

export function childText(e: Element | null | undefined, name: string, ns?: string): string | null {
  const c = child(e, name, ns);
  return c ? text(c) : null;
}

export function attr(e: Element | null | undefined, name: string): string | null {
  if (!e) return null;
  const v = e.getAttribute(name);
  return v === null || v === '' ? (e.hasAttribute(name) ? '' : null) : v;
}

export function name(e: Element): string {
  return localName(e);
}

export function serialize(e: Element): string {
  if (!serializer) serializer = new XMLSerializer();
  return serializer.serializeToString(e);
}
