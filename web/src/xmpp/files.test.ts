// Unit tests: labelled uploads. The slot request carries the label inside
// <request/> (docs/modules/upload.md, "Labelled files"); downloads send the
// token, retry a refused token once, and turn 403 into "not cleared".
import { describe, expect, it } from 'vitest';
import { FileAccessError, fileErrorText, fileFetch, fileNotCleared, uploadRefusalText, type FileFetchDeps } from './files';
import { catalogParse, type SecurityLabel } from './labels';
import { NS } from './ns';
import { uploadSlotBuild, uploadTokenBuild, uploadTokenParse } from './stanzas';
import { attr, child, children, nsOf, serialize, xmlParse } from './xml';

const CATALOG = `<iq type='result'><catalog xmlns='urn:xmpp:sec-label:catalog:2' to='b@x' restrict='true'>
  <item selector='Classification|SECRET' default='true'><securitylabel xmlns='urn:xmpp:sec-label:0'><displaymarking fgcolor='white' bgcolor='red'>SECRET</displaymarking><label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>Mg==</esssecuritylabel></label></securitylabel></item>
</catalog></iq>`;
const SECRET = catalogParse(xmlParse(CATALOG))!.items[0].label as SecurityLabel;

describe('slot request with a label (XEP-0363 + XEP-0258)', () => {
  it('puts the one <securitylabel/> inside <request/>, the IQ keeping one child', () => {
    const iq = uploadSlotBuild('upload.x', { name: 'brief.pdf', size: 23456, type: 'application/pdf' }, 's1', SECRET);
    // Round-trip through the serialiser: what goes on the wire.
    const wire = xmlParse(serialize(iq));
    expect(attr(wire, 'type')).toBe('get');
    expect(attr(wire, 'to')).toBe('upload.x');
    expect(children(wire).length).toBe(1);
    const req = child(wire, 'request', NS.UPLOAD)!;
    expect(req).not.toBeNull();
    expect([attr(req, 'filename'), attr(req, 'size'), attr(req, 'content-type')]).toEqual(['brief.pdf', '23456', 'application/pdf']);
    const inner = children(req);
    expect(inner.length).toBe(1);
    expect(inner[0].localName).toBe('securitylabel');
    expect(nsOf(inner[0])).toBe(NS.SECLABEL);
    // The catalog's element is sent back unchanged (XEP-0258 §3).
    expect(serialize(inner[0])).toContain('Mg==');
    expect(child(inner[0], 'displaymarking')?.textContent).toBe('SECRET');
  });

  it('an unlabelled request has an empty <request/>; the label is copied, not moved', () => {
    const plain = xmlParse(serialize(uploadSlotBuild('upload.x', { name: 'a', size: 1, type: '' }, 's2')));
    const req = child(plain, 'request', NS.UPLOAD)!;
    expect(children(req).length).toBe(0);
    expect(attr(req, 'content-type')).toBe('application/octet-stream');
    const a = uploadSlotBuild('upload.x', { name: 'a', size: 1, type: '' }, 's3', SECRET);
    const b = uploadSlotBuild('upload.x', { name: 'b', size: 1, type: '' }, 's4', SECRET);
    expect(children(child(a, 'request', NS.UPLOAD)!).length).toBe(1);
    expect(children(child(b, 'request', NS.UPLOAD)!).length).toBe(1);
  });

  it('builds the token request and reads the token, refusing unsafe ones', () => {
    expect(serialize(uploadTokenBuild('upload.x', 't1'))).toBe(`<iq type="get" to="upload.x" id="t1"><token xmlns="urn:aldis:upload:auth:0"/></iq>`);
    const ok = uploadTokenParse(xmlParse(`<iq type='result'><token xmlns='urn:aldis:upload:auth:0' expires='2026-11-26T03:14:00Z'> 1.abc-def </token></iq>`));
    expect(ok).toEqual({ value: '1.abc-def', expires: Date.parse('2026-11-26T03:14:00Z') });
    expect(Number.isNaN(uploadTokenParse(xmlParse(`<iq><token xmlns='urn:aldis:upload:auth:0'>x</token></iq>`))!.expires)).toBe(true);
    expect(uploadTokenParse(xmlParse(`<iq><token xmlns='urn:aldis:upload:auth:0'>a\r\nX-Injected: 1</token></iq>`))).toBeNull();
    expect(uploadTokenParse(xmlParse(`<iq><token xmlns='urn:aldis:upload:auth:0'>${'a'.repeat(5000)}</token></iq>`))).toBeNull();
    expect(uploadTokenParse(xmlParse(`<iq><token xmlns='urn:other'>x</token></iq>`))).toBeNull();
  });

  it('says why a slot was refused', () => {
    expect(uploadRefusalText('forbidden', 'not cleared for SECRET', SECRET)).toBe('Upload refused: you may not upload a file labelled SECRET: not cleared for SECRET');
    expect(uploadRefusalText('bad-request', '', SECRET)).toBe('Upload refused: the server did not accept the label SECRET');
    expect(uploadRefusalText('resource-constraint', 'quota', null)).toBe('Upload refused (resource-constraint): quota');
  });
});

// A fake fetch answering from a script, recording what was asked.
function deps(statuses: number[], opts: { tokens?: (string | null)[]; onHost?: boolean } = {}) {
  const calls: { url: string; auth: string | null }[] = [];
  const fresh: boolean[] = [];
  let t = 0;
  const d: FileFetchDeps = {
    fetch: async (url, init) => {
      calls.push({ url, auth: init.headers?.Authorization ?? null });
      const s = statuses[Math.min(calls.length - 1, statuses.length - 1)];
      return new Response(s === 200 ? 'data' : null, { status: s });
    },
    token: async (f) => {
      fresh.push(f);
      const list = opts.tokens ?? ['tok1', 'tok2'];
      return list[Math.min(t++, list.length - 1)];
    },
    tokenFor: () => opts.onHost ?? true,
  };
  return { d, calls, fresh };
}

describe('fetching labelled files', () => {
  it('sends the token as Authorization: Bearer and returns the file', async () => {
    const { d, calls } = deps([200]);
    const r = await fileFetch('https://upload.x/f/1/a.png', 'https://x/', d);
    expect(await r.text()).toBe('data');
    expect(calls).toEqual([{ url: 'https://upload.x/f/1/a.png', auth: 'Bearer tok1' }]);
  });

  it('403 is "not cleared", final, and the card shows the marking', async () => {
    const { d, calls } = deps([403]);
    const e = await fileFetch('https://upload.x/f/1/a.png', 'https://x/', d).catch((x) => x);
    expect(e).toBeInstanceOf(FileAccessError);
    expect(e.kind).toBe('not-cleared');
    expect(e.status).toBe(403);
    expect(fileNotCleared(e)).toBe(true);
    expect(calls.length).toBe(1); // no retry: a new token would not change the answer
    expect(fileErrorText(e, SECRET)).toBe('Not cleared for this file (SECRET)');
    expect(fileErrorText(e, null)).toBe('Not cleared for this file');
  });

  it('401 with a token is retried once with a fresh token', async () => {
    const ok = deps([401, 200]);
    expect((await fileFetch('https://upload.x/f', 'https://x/', ok.d)).status).toBe(200);
    expect(ok.calls.map((c) => c.auth)).toEqual(['Bearer tok1', 'Bearer tok2']);
    expect(ok.fresh).toEqual([false, true]);
    const twice = deps([401, 401]);
    const e = await fileFetch('https://upload.x/f', 'https://x/', twice.d).catch((x) => x);
    expect(e.kind).toBe('unauthorised');
    expect(twice.calls.length).toBe(2);
    expect(fileNotCleared(e)).toBe(false);
  });

  it('a 401 then 403 after a fresh token is "not cleared"', async () => {
    const { d } = deps([401, 403]);
    const e = await fileFetch('https://upload.x/f', 'https://x/', d).catch((x) => x);
    expect(e.kind).toBe('not-cleared');
  });

  it('without a token (other host, or none offered) asks once, plainly', async () => {
    const other = deps([401], { onHost: false });
    const e = await fileFetch('https://elsewhere/f', 'https://x/', other.d).catch((x) => x);
    expect(e.kind).toBe('unauthorised');
    expect(other.calls).toEqual([{ url: 'https://elsewhere/f', auth: null }]);
    expect(other.fresh).toEqual([]); // the token was never asked for
    const none = deps([403], { tokens: [null] });
    const e2 = await fileFetch('https://upload.x/f', 'https://x/', none.d).catch((x) => x);
    expect(e2.kind).toBe('not-cleared');
    expect(none.calls.length).toBe(1);
  });

  it('refuses non-http URLs and reports other statuses', async () => {
    const { d, calls } = deps([404]);
    expect((await fileFetch('javascript:alert(1)', 'https://x/', d).catch((x) => x)).kind).toBe('bad-url');
    expect(calls.length).toBe(0);
    const e = await fileFetch('/relative', 'https://upload.x/', d).catch((x) => x);
    expect([e.kind, e.status]).toEqual(['http', 404]);
    expect(calls[0].url).toBe('https://upload.x/relative');
    expect(fileErrorText(e, SECRET)).toBe('File not available: HTTP 404');
  });
});
