// Fetching uploaded files, and what the reader is told when that fails.
// Labelled files (docs/modules/upload.md, "Labelled files") are served only
// with a download token as `Authorization: Bearer` (RFC 6750 §2.1): 401
// means no or no valid token, 403 that the token's owner is not cleared for
// the file's label. The server says nothing else about the file, so the
// only marking the client can show is the one on the message that shared
// it (this client puts the same label on the slot request and on that
// message). Pure apart from the fetch and token functions it is given, so
// the unit tests drive it with fakes.
import type { SecurityLabel } from './labels';

export type FileErrorKind = 'not-cleared' | 'unauthorised' | 'http' | 'network' | 'bad-url';

export class FileAccessError extends Error {
  constructor(public kind: FileErrorKind, public status: number, message: string) {
    super(message);
    this.name = 'FileAccessError';
  }
}

export interface FileFetchDeps {
  fetch: (url: string, init: { headers?: Record<string, string> }) => Promise<Response>;
  // The current download token, or null when the service offers none;
  // fresh=true drops a cached one first (it was refused).
  token: (fresh: boolean) => Promise<string | null>;
  // Whether the URL is on the upload service's host (only then the token
  // is sent: it stands for the user and must not leak to other hosts).
  tokenFor: (u: URL) => boolean;
}

// GET the file. A 401 with a cached token is retried once with a fresh
// one (it expired, or the service's key changed); a 403 is final.
export async function fileFetch(url: string, base: string, deps: FileFetchDeps): Promise<Response> {
  let u: URL;
  try {
    u = new URL(url, base);
  } catch {
    throw new FileAccessError('bad-url', 0, 'not a URL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new FileAccessError('bad-url', 0, 'not an http(s) URL');
  const useToken = deps.tokenFor(u);
  let r: Response | null = null;
  for (let attempt = 0; attempt < 2; attempt++) {
    const token = useToken ? await deps.token(attempt > 0).catch(() => null) : null;
    try {
      r = await deps.fetch(u.href, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
    } catch {
      throw new FileAccessError('network', 0, 'the file could not be fetched (network)');
    }
    if (r.status !== 401 || !token) break;
  }
  if (!r) throw new FileAccessError('network', 0, 'the file could not be fetched');
  if (r.status === 403) throw new FileAccessError('not-cleared', 403, 'you are not cleared for this file');
  if (r.status === 401) throw new FileAccessError('unauthorised', 401, 'the server wants a download token for this file');
  if (!r.ok) throw new FileAccessError('http', r.status, `HTTP ${r.status}`);
  return r;
}

// The placeholder card's text for a file that could not be fetched;
// `label` is the label of the message that shared the file.
export function fileErrorText(e: unknown, label: SecurityLabel | null): string {
  const marking = label?.marking?.text;
  if (e instanceof FileAccessError && e.kind === 'not-cleared') {
    return marking ? `Not cleared for this file (${marking})` : 'Not cleared for this file';
  }
  if (e instanceof FileAccessError && e.kind === 'unauthorised') return 'This file needs a download token the server did not give';
  return `File not available: ${e instanceof Error ? e.message : String(e)}`;
}

export function fileNotCleared(e: unknown): boolean {
  return e instanceof FileAccessError && e.kind === 'not-cleared';
}

// What the uploader is told when the slot request is refused. XEP-0258
// refusals come as <forbidden/> (the uploader's clearance does not permit
// the label) or <bad-request/> (two labels, a malformed one); the server's
// <text/> says why.
export function uploadRefusalText(condition: string, text: string, label: SecurityLabel | null): string {
  const marking = label?.marking?.text;
  const why = text ? `: ${text}` : '';
  if (condition === 'forbidden' && marking) return `Upload refused: you may not upload a file labelled ${marking}${why}`;
  if (condition === 'bad-request' && marking) return `Upload refused: the server did not accept the label ${marking}${why}`;
  return `Upload refused (${condition})${why}`;
}
