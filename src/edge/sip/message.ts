/**
 * A SIP message as the edge handles it: start line, ordered header list (names as received), text body.
 * Header order matters for Via and Record-Route, so headers stay a list, not a map.
 */

export interface SipHeader { name: string; value: string }

export interface SipRequest {
  kind: 'request';
  method: string;
  uri: string;
  headers: SipHeader[];
  body: string;
}

export interface SipResponse {
  kind: 'response';
  status: number;
  reason: string;
  headers: SipHeader[];
  body: string;
}

export type SipMessage = SipRequest | SipResponse;

/** RFC 3261 §7.3.3 compact forms → canonical lowercase names. */
const COMPACT: Record<string, string> = {
  i: 'call-id', m: 'contact', e: 'content-encoding', l: 'content-length', c: 'content-type', f: 'from',
  s: 'subject', k: 'supported', t: 'to', v: 'via', o: 'event', u: 'allow-events', r: 'refer-to', b: 'referred-by',
};

/** Names as received → canonical, for the names seen so far (a few dozen in practice; bounded against junk). */
const canonical = new Map<string, string>();

export function canonicalName(name: string): string {
  let c = canonical.get(name);
  if (c !== undefined) return c;
  const lower = name.toLowerCase();
  c = COMPACT[lower] ?? lower;
  if (canonical.size < 1000) canonical.set(name, c);
  return c;
}

/** Every value of a header, in order. Headers listed as one line with commas are not split here (see splitList). */
export function headerValues(msg: SipMessage, name: string): string[] {
  const want = canonicalName(name);
  const out: string[] = [];
  for (const h of msg.headers) if (canonicalName(h.name) === want) out.push(h.value);
  return out;
}

export function header(msg: SipMessage, name: string): string | undefined {
  return headerValues(msg, name)[0];
}

export function removeHeader(msg: SipMessage, name: string): void {
  const want = canonicalName(name);
  msg.headers = msg.headers.filter((h) => canonicalName(h.name) !== want);
}

/** Split a comma-separated header value, respecting quotes and <...> (commas inside URIs are legal). */
function splitList(value: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let cur = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (quoted) {
      if (ch === '\\' && i + 1 < value.length) { cur += ch + value[++i]; continue; }
      if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === '<') depth++;
    else if (ch === '>') depth = Math.max(0, depth - 1);
    else if (ch === ',' && depth === 0) { out.push(cur.trim()); cur = ''; continue; }
    cur += ch;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

/** All values of a multi-value header (Via, Record-Route, Route...), flattened across lines. */
export function listValues(msg: SipMessage, name: string): string[] {
  return headerValues(msg, name).flatMap(splitList);
}

/** Parameter of a header value outside of <...> (e.g. ;tag= of From/To, ;branch= of Via). */
function headerParam(value: string, param: string): string | undefined {
  const gt = value.lastIndexOf('>');
  const tail = gt >= 0 ? value.slice(gt + 1) : value;
  for (const part of tail.split(';').slice(1)) {
    const eq = part.indexOf('=');
    const k = (eq >= 0 ? part.slice(0, eq) : part).trim().toLowerCase();
    if (k === param.toLowerCase()) return eq >= 0 ? part.slice(eq + 1).trim() : '';
  }
  return undefined;
}

export function tagOf(nameAddr: string | undefined): string | undefined {
  return nameAddr === undefined ? undefined : headerParam(nameAddr, 'tag');
}

/** The URI inside a name-addr ("Bob" <sip:b@h>;tag=x → sip:b@h) or the addr-spec itself. */
export function uriOf(nameAddr: string): string {
  const lt = nameAddr.indexOf('<');
  if (lt >= 0) {
    const gt = nameAddr.indexOf('>', lt);
    return nameAddr.slice(lt + 1, gt < 0 ? undefined : gt).trim();
  }
  const semi = nameAddr.indexOf(';');
  return (semi >= 0 ? nameAddr.slice(0, semi) : nameAddr).trim();
}

export interface SipUri { scheme: string; user?: string; host: string; port?: number; params: Record<string, string> }

/** Minimal sip:/sips: URI parse: enough to route (host, port, transport, lr). */
export function parseUri(uri: string): SipUri | undefined {
  const m = /^(sips?):(?:([^@;?]*)@)?(\[[^\]]+\]|[^:;?>]+)(?::(\d{1,5}))?([^?]*)/i.exec(uri.trim());
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of (m[5] ?? '').split(';').slice(1)) {
    const eq = p.indexOf('=');
    if (p === '') continue;
    params[(eq >= 0 ? p.slice(0, eq) : p).toLowerCase()] = eq >= 0 ? p.slice(eq + 1) : '';
  }
  const port = m[4] === undefined ? undefined : Number(m[4]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return { scheme: m[1]!.toLowerCase(), ...(m[2] !== undefined ? { user: m[2] } : {}), host: m[3]!.replace(/^\[|\]$/g, ''), ...(port !== undefined ? { port } : {}), params };
}

export interface Via { transport: string; host: string; port?: number; params: Record<string, string>; raw: string }

export function parseVia(value: string): Via | undefined {
  const m = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z]+)\s+(\[[^\]]+\]|[^\s:;]+)(?:\s*:\s*(\d{1,5}))?\s*(.*)$/i.exec(value.trim());
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of (m[4] ?? '').split(';')) {
    const t = p.trim();
    if (t === '') continue;
    const eq = t.indexOf('=');
    params[(eq >= 0 ? t.slice(0, eq) : t).toLowerCase()] = eq >= 0 ? t.slice(eq + 1).trim() : '';
  }
  return { transport: m[1]!.toUpperCase(), host: m[2]!.replace(/^\[|\]$/g, ''), ...(m[3] !== undefined ? { port: Number(m[3]) } : {}), params, raw: value.trim() };
}

export function cseqOf(msg: SipMessage): { seq: number; method: string } | undefined {
  const v = header(msg, 'cseq');
  const m = v === undefined ? null : /^\s*(\d{1,10})\s+([A-Za-z0-9.!%*_+`'~-]+)\s*$/.exec(v);
  return m ? { seq: Number(m[1]), method: m[2]!.toUpperCase() } : undefined;
}

/** Serialize with a correct Content-Length (bytes of the UTF-8 body). */
export function serialize(msg: SipMessage): string {
  const start = msg.kind === 'request' ? `${msg.method} ${msg.uri} SIP/2.0` : `SIP/2.0 ${msg.status} ${msg.reason}`;
  const lines = [start];
  for (const h of msg.headers) if (canonicalName(h.name) !== 'content-length') lines.push(`${h.name}: ${h.value}`);
  lines.push(`Content-Length: ${Buffer.byteLength(msg.body, 'utf8')}`);
  return lines.join('\r\n') + '\r\n\r\n' + msg.body;
}
