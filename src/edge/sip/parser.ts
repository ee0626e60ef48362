/**
 * SIP parser with size limits. Throws only SipParseError; callers turn that into 400 or a silent drop.
 * Datagram mode parses one UDP packet; StreamFramer cuts a TCP byte stream into messages by Content-Length.
 */
import type { SipHeader, SipMessage } from './message.js';
import { canonicalName } from './message.js';

export const LIMITS = {
  maxMessageBytes: 65_535,
  maxHeaderBytes: 16_384,
  maxHeaders: 128,
  maxBodyBytes: 49_152,
};

export class SipParseError extends Error {
  /** Enough of the message was understood to answer it with 400 (a request whose mandatory headers survived). */
  constructor(message: string, readonly partial?: SipMessage) {
    super(message);
    this.name = 'SipParseError';
  }
}

const TOKEN = /^[A-Za-z0-9.!%*_+`'~-]+$/;
/** Bare CR, LF or NUL inside a start line or header value (CRLF ends lines; anything else is an injection). */
const FORBIDDEN = /[\r\n\0]/;
const CRLFCRLF = Buffer.from('\r\n\r\n');

/** Parse the header section (start line + headers, without the blank line) and the body. */
function parseParts(head: string, body: string, strict = true): SipMessage {
  // RFC 3261 §7.3.1 line folding: a line starting with whitespace continues the previous header.
  const lines = head.split('\r\n');
  const start = lines.shift() ?? '';
  if (FORBIDDEN.test(start)) throw new SipParseError('start line contains CR, LF or NUL');
  const headers: SipHeader[] = [];
  let injected: string | undefined; // the first header whose value holds a bare CR, LF or NUL
  for (const line of lines) {
    if (line === '') continue;
    if (line[0] === ' ' || line[0] === '\t') {
      const last = headers[headers.length - 1];
      if (!last) throw new SipParseError('continuation line before any header');
      last.value += ' ' + line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new SipParseError(`malformed header line: ${line.slice(0, 40)}`);
    const name = line.slice(0, colon).trim();
    if (!TOKEN.test(name)) throw new SipParseError(`invalid header name: ${name.slice(0, 40)}`);
    headers.push({ name, value: line.slice(colon + 1).trim() });
    if (headers.length > LIMITS.maxHeaders) throw new SipParseError('too many headers');
  }
  for (const h of headers) if (injected === undefined && FORBIDDEN.test(h.value)) injected = h.name;
  let msg: SipMessage;
  if (start.startsWith('SIP/2.0 ')) {
    const m = /^SIP\/2\.0 ([1-6]\d\d)(?: (.*))?$/.exec(start);
    if (!m) throw new SipParseError(`bad status line: ${start.slice(0, 60)}`);
    msg = { kind: 'response', status: Number(m[1]), reason: m[2] ?? '', headers, body };
  } else {
    const m = /^([A-Za-z0-9.!%*_+`'~-]+) (\S+) SIP\/2\.0$/.exec(start);
    if (!m) throw new SipParseError(`bad request line: ${start.slice(0, 60)}`);
    msg = { kind: 'request', method: m[1]!.toUpperCase(), uri: m[2]!, headers, body };
  }
  if (injected !== undefined) {
    const why = `header ${injected.slice(0, 40)} contains CR, LF or NUL`;
    // answerable with 400 only when no header a response copies is the bad one (no response splitting)
    if (!strict || ['via', 'from', 'to', 'call-id', 'cseq'].includes(canonicalName(injected))) throw new SipParseError(why);
  }
  if (!strict) return msg;
  const missing = ['via', 'from', 'to', 'call-id', 'cseq'].filter((n) => !headers.some((h) => canonicalName(h.name) === n));
  if (missing.length > 0) throw new SipParseError(`missing mandatory header(s): ${missing.join(', ')}`, missing.includes('via') ? undefined : msg);
  const cseq = headers.find((h) => canonicalName(h.name) === 'cseq')!.value;
  const cm = /^\s*(\d{1,10})\s+([A-Za-z0-9.!%*_+`'~-]+)\s*$/.exec(cseq);
  if (!cm || Number(cm[1]) > 2 ** 31 - 1) throw new SipParseError(`bad CSeq: ${cseq.slice(0, 40)}`, msg);
  if (msg.kind === 'request' && cm[2]!.toUpperCase() !== msg.method && msg.method !== 'ACK' && msg.method !== 'CANCEL') {
    throw new SipParseError('CSeq method does not match the request method', msg);
  }
  if (injected !== undefined) throw new SipParseError(`header ${injected.slice(0, 40)} contains CR, LF or NUL`, msg);
  return msg;
}

function contentLength(head: string): number | undefined {
  const m = /\r\n(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)/i.exec(head);
  if (!m) return undefined;
  const v = m[1]!.trim();
  if (!/^\d{1,6}$/.test(v)) throw new SipParseError(`bad Content-Length: ${v.slice(0, 20)}`);
  return Number(v);
}

/** One UDP datagram = one message. A missing Content-Length means "the rest of the datagram" (RFC 3261 §18.3). */
export function parseDatagram(buf: Buffer): SipMessage {
  if (buf.length > LIMITS.maxMessageBytes) throw new SipParseError('message too large');
  let off = 0;
  while (off < buf.length && (buf[off] === 0x0d || buf[off] === 0x0a)) off++; // keepalive CRLFs before a message
  const end = buf.indexOf(CRLFCRLF, off);
  if (end < 0) throw new SipParseError('no end of headers');
  if (end - off > LIMITS.maxHeaderBytes) throw new SipParseError('header section too large');
  const head = buf.toString('utf8', off, end);
  const rest = buf.subarray(end + 4);
  const cl = contentLength('\r\n' + head);
  if (cl !== undefined && cl > rest.length) {
    // RFC 3261 §18.3: a datagram shorter than its Content-Length is answered 400 when it is an addressable request
    let partial: SipMessage | undefined;
    try { partial = parseParts(head, ''); } catch { partial = undefined; }
    throw new SipParseError('body shorter than Content-Length', partial);
  }
  const body = rest.subarray(0, cl ?? rest.length);
  if (body.length > LIMITS.maxBodyBytes) throw new SipParseError('body too large');
  return parseParts(head, body.toString('utf8'));
}

/**
 * Parses a message an app sent over the wire protocol: the app may leave out Via, CSeq, Call-ID and the like
 * (the edge fills them in), and a missing Content-Length means "the rest of the text".
 */
export function parseAppMessage(text: string): SipMessage {
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text.replace(/\r\n$/, '') : text.slice(0, end);
  if (Buffer.byteLength(text, 'utf8') > LIMITS.maxMessageBytes) throw new SipParseError('message too large');
  const rest = end < 0 ? '' : text.slice(end + 4);
  const cl = contentLength('\r\n' + head);
  const body = cl === undefined ? rest : Buffer.from(rest, 'utf8').subarray(0, cl).toString('utf8');
  return parseParts(head, body, false);
}

/**
 * TCP stream framing (RFC 3261 §18.3): headers up to CRLFCRLF, then exactly Content-Length body bytes
 * (mandatory on streams). Keepalive CRLFs between messages are skipped.
 */
export class StreamFramer {
  private buf: Buffer = Buffer.alloc(0);

  /** Bytes of an incomplete message held (0 between messages). */
  get buffered(): number { return this.buf.length; }

  /** Feed bytes; returns complete messages (or parse errors, after which the stream cannot be trusted). */
  push(chunk: Buffer): (SipMessage | SipParseError)[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: (SipMessage | SipParseError)[] = [];
    for (;;) {
      let off = 0;
      while (off < this.buf.length && (this.buf[off] === 0x0d || this.buf[off] === 0x0a)) off++;
      if (off > 0) this.buf = this.buf.subarray(off);
      if (this.buf.length === 0) break;
      const end = this.buf.indexOf(CRLFCRLF);
      if (end < 0) {
        if (this.buf.length > LIMITS.maxHeaderBytes) { out.push(new SipParseError('header section too large')); this.buf = Buffer.alloc(0); }
        break;
      }
      if (end > LIMITS.maxHeaderBytes) { out.push(new SipParseError('header section too large')); this.buf = Buffer.alloc(0); break; }
      const head = this.buf.toString('utf8', 0, end);
      let cl: number | undefined;
      try { cl = contentLength('\r\n' + head); } catch (e) { out.push(e as SipParseError); this.buf = Buffer.alloc(0); break; }
      if (cl === undefined) { out.push(new SipParseError('Content-Length is mandatory on stream transports')); this.buf = Buffer.alloc(0); break; }
      if (cl > LIMITS.maxBodyBytes) { out.push(new SipParseError('body too large')); this.buf = Buffer.alloc(0); break; }
      if (this.buf.length < end + 4 + cl) break;
      const body = this.buf.toString('utf8', end + 4, end + 4 + cl);
      this.buf = this.buf.subarray(end + 4 + cl);
      try { out.push(parseParts(head, body)); } catch (e) { out.push(e as SipParseError); }
    }
    return out;
  }
}
