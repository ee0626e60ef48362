/** SIP parser/serializer: RFC 3261 syntax cases, stream framing, and fuzzing (random bytes, mutated messages). */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseDatagram, parseAppMessage, SipParseError, StreamFramer, LIMITS } from '../../src/edge/sip/parser.js';
import { header, headerValues, listValues, parseUri, parseVia, serialize, tagOf, uriOf, type SipMessage } from '../../src/edge/sip/message.js';

const INVITE = [
  'INVITE sip:2000@10.0.0.9:5060 SIP/2.0',
  'Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK776asdhds;rport, SIP/2.0/UDP 10.0.0.4;branch=z9hG4bKold',
  'v: SIP/2.0/TCP 10.0.0.3:5070;branch=z9hG4bK3',
  'Max-Forwards: 70',
  'f: "张三" <sip:+8657188880000@10.0.0.5>;tag=1928301774',
  't: <sip:2000@10.0.0.9>',
  'i: a84b4c76e66710@10.0.0.5',
  'CSeq: 314159 INVITE',
  'Subject: folded',
  '  continuation',
  'm: <sip:agent@10.0.0.5:5060;transport=udp>',
  'c: application/sdp',
].join('\r\n');
const BODY = 'v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=张\r\n';
const withBody = (head: string, body: string, cl = Buffer.byteLength(body)): Buffer => Buffer.from(`${head}\r\nl: ${cl}\r\n\r\n${body}`);

describe('SIP parser', () => {
  it('parses compact forms, multi-value Via, folding and a UTF-8 body measured in bytes', () => {
    const m = parseDatagram(withBody(INVITE, BODY));
    expect(m.kind).toBe('request');
    if (m.kind !== 'request') return;
    expect(m.method).toBe('INVITE');
    expect(m.uri).toBe('sip:2000@10.0.0.9:5060');
    expect(header(m, 'call-id')).toBe('a84b4c76e66710@10.0.0.5');
    expect(listValues(m, 'via')).toHaveLength(3);
    expect(parseVia(listValues(m, 'via')[0]!)).toMatchObject({ transport: 'UDP', host: '10.0.0.5', port: 5060, params: { branch: 'z9hG4bK776asdhds', rport: '' } });
    expect(tagOf(header(m, 'from'))).toBe('1928301774');
    expect(uriOf(header(m, 'from')!)).toBe('sip:+8657188880000@10.0.0.5');
    expect(header(m, 'subject')).toBe('folded continuation');
    expect(m.body).toBe(BODY);
  });

  it('serialize → parse round-trips and recomputes Content-Length in bytes', () => {
    const m = parseDatagram(withBody(INVITE, BODY));
    const text = serialize(m);
    expect(text).toContain(`Content-Length: ${Buffer.byteLength(BODY)}`);
    const again = parseDatagram(Buffer.from(text));
    expect(again.body).toBe(BODY);
    expect(again.headers.filter((h) => h.name !== 'Content-Length')).toEqual(m.headers.filter((h) => h.name.toLowerCase() !== 'l'));
  });

  it('parses responses and URIs', () => {
    const r = parseDatagram(Buffer.from('SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n'));
    expect(r).toMatchObject({ kind: 'response', status: 180, reason: 'Ringing' });
    expect(parseUri('sip:+86@10.0.0.1:5080;transport=TCP;lr')).toMatchObject({ user: '+86', host: '10.0.0.1', port: 5080, params: { transport: 'TCP', lr: '' } });
    expect(parseUri('sip:[::1]:5060')).toMatchObject({ host: '::1', port: 5060 });
    expect(parseUri('http://x')).toBeUndefined();
    expect(headerValues(r, 'TO')).toEqual(['<sip:b@h>;tag=2']);
  });

  it.each([
    ['no blank line', 'INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1'],
    ['bad request line', 'INVITE sip:a@b SIP/3.0\r\n\r\n'],
    ['bad status', 'SIP/2.0 99 Weird\r\n\r\n'],
    ['header without colon', `${INVITE}\r\nNoColonHere\r\nl: 0\r\n\r\n`],
    ['bad Content-Length', `${INVITE}\r\nl: -1\r\n\r\n`],
    ['body shorter than Content-Length', `${INVITE}\r\nl: 500\r\n\r\nv=0`],
    ['CSeq method mismatch', INVITE.replace('314159 INVITE', '1 BYE') + '\r\nl: 0\r\n\r\n'],
    ['missing Call-ID', INVITE.replace(/\r\ni: [^\r]*/, '') + '\r\nl: 0\r\n\r\n'],
  ])('rejects %s with a SipParseError', (_name, text) => {
    expect(() => parseDatagram(Buffer.from(text))).toThrow(SipParseError);
  });

  it('keeps a partial request when it can still be answered with 400', () => {
    try {
      parseDatagram(Buffer.from(`${INVITE}\r\nl: 500\r\n\r\nv=0`));
      expect.unreachable('should throw');
    } catch (e) {
      expect(e).toBeInstanceOf(SipParseError);
      expect((e as SipParseError).partial?.kind).toBe('request');
    }
  });

  it('enforces size limits', () => {
    const huge = `${INVITE}\r\nX-Pad: ${'a'.repeat(LIMITS.maxHeaderBytes)}\r\nl: 0\r\n\r\n`;
    expect(() => parseDatagram(Buffer.from(huge))).toThrow(/too large/);
    const many = `${INVITE}\r\n${Array.from({ length: LIMITS.maxHeaders + 1 }, (_, i) => `X-H${i}: 1`).join('\r\n')}\r\nl: 0\r\n\r\n`;
    expect(() => parseDatagram(Buffer.from(many))).toThrow(/too many headers/);
  });

  it('refuses a bare CR, LF or NUL in a header value or the start line; 400-able only when no echoed header is the bad one', () => {
    const fail = (text: string): SipParseError => {
      try { parseDatagram(Buffer.from(text)); } catch (e) { return e as SipParseError; }
      throw new Error('should throw');
    };
    for (const c of ['\r', '\n', '\0']) {
      const inOther = fail(`${INVITE}\r\nX-Note: a${c}Route: <sip:evil>\r\nl: 0\r\n\r\n`);
      expect(inOther.message).toBe('header X-Note contains CR, LF or NUL');
      expect(inOther.partial?.kind).toBe('request'); // answered 400, echoing only clean headers
      const inEchoed = fail(`${INVITE.replace('i: a84b4c76e66710@10.0.0.5', `i: a84b${c}x`)}\r\nl: 0\r\n\r\n`);
      expect(inEchoed.message).toBe('header i contains CR, LF or NUL');
      expect(inEchoed.partial).toBeUndefined(); // a 400 would carry it back: dropped instead
      expect(() => parseAppMessage(`BYE sip:placeholder SIP/2.0\r\nReason: a${c}b\r\n\r\n`)).toThrow(/CR, LF or NUL/);
    }
    expect(fail(`INVITE sip:a\0b@x SIP/2.0\r\n${INVITE.split('\r\n').slice(1).join('\r\n')}\r\nl: 0\r\n\r\n`).message).toBe('start line contains CR, LF or NUL');
    expect(fail('SIP/2.0 486 Busy\0Here\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nf: <sip:a@b>;tag=1\r\nt: <sip:c@d>\r\ni: x\r\nCSeq: 1 INVITE\r\nl: 0\r\n\r\n').partial).toBeUndefined();
  });

  it('app messages may omit the headers the stack fills in', () => {
    const m = parseAppMessage('BYE sip:placeholder SIP/2.0\r\nReason: Q.850;cause=16\r\n\r\n');
    expect(m).toMatchObject({ kind: 'request', method: 'BYE', uri: 'sip:placeholder' });
  });
});

describe('TCP stream framing', () => {
  const one = serialize(parseDatagram(withBody(INVITE, BODY)));
  const two = serialize(parseDatagram(withBody(INVITE.replace('314159', '314160'), '')));

  it('splits two messages sharing one read, and reassembles one fed byte by byte', () => {
    const f = new StreamFramer();
    const out = f.push(Buffer.from(`\r\n${one}${two}`));
    expect(out.map((m) => (m as SipMessage).body)).toEqual([BODY, '']);
    const g = new StreamFramer();
    const bytes = Buffer.from(one);
    const got: unknown[] = [];
    for (let i = 0; i < bytes.length; i++) got.push(...g.push(bytes.subarray(i, i + 1)));
    expect(got).toHaveLength(1);
    expect((got[0] as SipMessage).body).toBe(BODY);
  });

  it('requires Content-Length on a stream', () => {
    const out = new StreamFramer().push(Buffer.from(`${INVITE}\r\n\r\n`));
    expect(out[0]).toBeInstanceOf(SipParseError);
  });
});

describe('parser fuzzing (fast-check)', () => {
  /** Throws (failing the property) on anything but a SipParseError, from both the datagram and stream parsers. */
  const onlyTypedErrors = (buf: Buffer): boolean => {
    try { parseDatagram(buf); } catch (e) { if (!(e instanceof SipParseError)) throw e; }
    for (const m of new StreamFramer().push(buf)) expect(m instanceof SipParseError || typeof m.kind === 'string').toBe(true);
    return true;
  };

  it('random bytes never throw anything but SipParseError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), (a) => onlyTypedErrors(Buffer.from(a))), { numRuns: 3000 });
  });

  it('mutated valid messages never throw anything but SipParseError, and what parses re-serializes', () => {
    const base = withBody(INVITE, BODY);
    const mutation = fc.array(fc.record({ at: fc.nat({ max: base.length - 1 }), byte: fc.integer({ min: 0, max: 255 }), op: fc.constantFrom('set', 'del', 'ins') }), { minLength: 1, maxLength: 8 });
    fc.assert(fc.property(mutation, (muts) => {
      const bytes = [...base];
      for (const m of muts) {
        const at = Math.min(m.at, bytes.length - 1);
        if (m.op === 'set') bytes[at] = m.byte; else if (m.op === 'del') bytes.splice(at, 1); else bytes.splice(at, 0, m.byte);
      }
      const buf = Buffer.from(bytes);
      expect(onlyTypedErrors(buf)).toBe(true);
      let parsed: SipMessage | undefined;
      try { parsed = parseDatagram(buf); } catch { parsed = undefined; }
      if (parsed) expect(() => parseDatagram(Buffer.from(serialize(parsed!)))).not.toThrow();
    }), { numRuns: 3000 });
  });
});
