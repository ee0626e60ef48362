import { describe, expect, it } from 'vitest';
import { audioTarget, originOf, withOrigin } from '../../src/media/sdp.js';

const FS = 'v=0\r\no=FreeSWITCH 1795882313 1795882314 IN IP4 127.0.0.1\r\ns=FreeSWITCH\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 31058 RTP/AVP 0 101\r\na=sendrecv\r\n';
const GW = 'v=0\r\no=carrier 7 41 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';

describe('SDP origin toward the caller (RFC 3264 §8)', () => {
  it('reads the o= line', () => {
    expect(originOf(GW)).toEqual({ username: 'carrier', sessionId: '7', version: 41n, rest: 'IN IP4 10.0.0.9' });
    expect(originOf('v=0\r\ns=-\r\n')).toBeNull();
  });
  it('puts the media server SDP under the origin the caller knows, with the next version; nothing else changes', () => {
    const o = originOf(GW)!;
    const out = withOrigin(FS, o, o.version + 1n);
    expect(out).toBe(FS.replace('o=FreeSWITCH 1795882313 1795882314 IN IP4 127.0.0.1', 'o=carrier 7 42 IN IP4 10.0.0.9'));
    expect(withOrigin(FS.replaceAll('\r\n', '\n'), o, 43n)).toContain('o=carrier 7 43 IN IP4 10.0.0.9\ns=FreeSWITCH\n');
    expect(() => withOrigin('v=0\r\n', o, 1n)).toThrow(/o= line/);
  });
  it('versions beyond 2^53 stay exact', () => {
    const big = GW.replace(' 41 ', ' 9007199254740993 ');
    expect(withOrigin(big, originOf(big)!, originOf(big)!.version + 1n)).toContain(' 9007199254740994 ');
  });
});

describe('audio target', () => {
  it('session-level c= and the first audio port; a media-level c= wins', () => {
    expect(audioTarget(GW)).toBe('10.0.0.9:4000');
    expect(audioTarget(FS)).toBe('127.0.0.1:31058');
    const mediaLevel = 'v=0\r\nc=IN IP4 1.1.1.1\r\nm=audio 5000 RTP/AVP 0\r\nc=IN IP4 2.2.2.2\r\nm=video 6000 RTP/AVP 96\r\nc=IN IP4 3.3.3.3\r\n';
    expect(audioTarget(mediaLevel)).toBe('2.2.2.2:5000');
    expect(audioTarget('v=0\r\nm=video 6000 RTP/AVP 96\r\n')).toBeNull();
  });
});
