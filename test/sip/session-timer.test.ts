import { describe, expect, it } from 'vitest';
import { isSessionRefresh, minSeOf, refreshAnswerHeaders, sessionTimerHeaders } from '../../src/sip/session-timer.js';

const sdp = (id: string, version: string, port = 4000) => `v=0\r\no=carrier ${id} ${version} IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio ${port} RTP/AVP 8\r\n`;

describe('RFC 4028 session timers on the carrier leg', () => {
  it('we ask the carrier to refresh (refresher=uas) with the configured interval and Min-SE 90', () => {
    expect(sessionTimerHeaders(90)).toEqual({ 'Session-Expires': '90;refresher=uas', 'Min-SE': '90' });
  });

  it('the answer to a refresh repeats the interval and the refresher it named; uac (or none) also needs Require: timer', () => {
    expect(refreshAnswerHeaders('90;refresher=uac')).toEqual({ 'Session-Expires': '90;refresher=uac', Require: 'timer' });
    expect(refreshAnswerHeaders('1800')).toEqual({ 'Session-Expires': '1800;refresher=uac', Require: 'timer' });
    expect(refreshAnswerHeaders(' 120 ; refresher = UAS')).toEqual({ 'Session-Expires': '120;refresher=uas' });
    expect(refreshAnswerHeaders(undefined)).toEqual({});
    expect(refreshAnswerHeaders('soon')).toEqual({});
  });

  it('a re-INVITE repeating the SDP session id and version is a refresh; a new version is a media change', () => {
    expect(isSessionRefresh(sdp('1', '1'), sdp('1', '1'))).toBe(true);
    expect(isSessionRefresh(sdp('1', '1'), sdp('1', '2', 5000))).toBe(false);
    expect(isSessionRefresh(sdp('1', '1'), sdp('2', '1'))).toBe(false);
    expect(isSessionRefresh(undefined, sdp('1', '1'))).toBe(false);
    expect(isSessionRefresh(sdp('1', '1'), '')).toBe(false);
  });

  it('Min-SE of a 422', () => {
    expect(minSeOf('1800')).toBe(1800);
    expect(minSeOf(undefined)).toBeNull();
  });
});
