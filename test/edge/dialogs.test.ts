/** Dialog store and in-dialog routing (RFC 3261 §12.2.1.1): loose vs strict route sets, lookups, failed-dialog memory. */
import { describe, expect, it } from 'vitest';
import { DialogStore, inDialogRouting, type Dialog } from '../../src/edge/dialogs.js';

const dialog = (over: Partial<Dialog> = {}): Dialog => ({
  id: 'c1;from-tag=a', role: 'uac', state: 'confirmed', callId: 'c1', localTag: 'a', remoteTag: 'b',
  localUri: '<sip:a@x>;tag=a', remoteUri: '<sip:b@y>;tag=b', remoteTarget: 'sip:b@10.0.0.9:5080', routeSet: [],
  localCseq: 1, inviteCseq: 1, inviteCseqRemote: 0, proto: 'udp', fallback: { proto: 'udp', address: '10.0.0.9', port: 5080 }, owner: null,
  ...over,
});

describe('in-dialog routing', () => {
  it('no route set: straight to the remote target', () => {
    expect(inDialogRouting(dialog())).toEqual({ ruri: 'sip:b@10.0.0.9:5080', routes: [], nextHop: 'sip:b@10.0.0.9:5080' });
  });

  it('loose routing (;lr): R-URI stays the remote target, Route carries the set, next hop is the first route', () => {
    const d = dialog({ routeSet: ['<sip:p1.example;lr>', '<sip:p2.example;lr>'] });
    expect(inDialogRouting(d)).toEqual({ ruri: 'sip:b@10.0.0.9:5080', routes: ['<sip:p1.example;lr>', '<sip:p2.example;lr>'], nextHop: 'sip:p1.example;lr' });
  });

  it('strict routing: the first route becomes the R-URI and the remote target goes last', () => {
    const d = dialog({ routeSet: ['<sip:p1.example>', '<sip:p2.example;lr>'] });
    expect(inDialogRouting(d)).toEqual({ ruri: 'sip:p1.example', routes: ['<sip:p2.example;lr>', '<sip:b@10.0.0.9:5080>'], nextHop: 'sip:p1.example' });
  });
});

describe('dialog store', () => {
  it('finds a dialog by id, by Call-ID + local tag and by Call-ID; forgets it on removal', () => {
    const s = new DialogStore();
    const d = dialog();
    s.add(d);
    expect(s.get('c1;from-tag=a')).toBe(d);
    expect(s.findLocal('c1', 'a')).toBe(d);
    expect(s.findLocal('c1', 'b')).toBeUndefined();
    expect(s.withCallId('c1')).toEqual([d]);
    s.remove(d, true);
    expect([s.size, s.get(d.id), s.withCallId('c1')]).toEqual([0, undefined, []]);
    expect(s.recentlyFailed(d.id)).toBe(true);
    expect(s.recentlyFailed('other')).toBe(false);
  });
});
