/**
 * The little SDP handling the low-credit warning needs, pure. Toward the caller we are one UA for the whole call:
 * RFC 3264 §8 keeps the o= line of a session the same except for its version, which grows by one with each new
 * offer. So the media server's SDP goes to the caller under the origin the caller already knows from us, with
 * the next version, and so does the callee's SDP when the caller's media goes back to the callee.
 */

interface Origin {
  username: string;
  sessionId: string;
  version: bigint;
  /** nettype addrtype address */
  rest: string;
}

const O_LINE = /^o=(\S+) (\S+) (\d+) (.+?)\r?$/m;

export function originOf(sdp: string): Origin | null {
  const m = O_LINE.exec(sdp);
  if (!m) return null;
  return { username: m[1]!, sessionId: m[2]!, version: BigInt(m[3]!), rest: m[4]! };
}

/** `sdp` with its o= line replaced by `origin` at `version`. */
export function withOrigin(sdp: string, origin: Origin, version: bigint): string {
  const line = `o=${origin.username} ${origin.sessionId} ${version} ${origin.rest}`;
  if (!O_LINE.test(sdp)) throw new RangeError('SDP has no o= line');
  return sdp.replace(/^o=.*?(\r?)$/m, (_all, cr: string) => `${line}${cr}`);
}

/** Where the first audio stream of an SDP is sent: "address:port" (media-level c= wins over session-level). */
export function audioTarget(sdp: string): string | null {
  const lines = sdp.split(/\r?\n/);
  let sessionAddr: string | null = null;
  let port: string | null = null;
  let mediaAddr: string | null = null;
  let inAudio = false;
  for (const l of lines) {
    if (l.startsWith('m=')) {
      if (port !== null) break; // only the first audio stream
      inAudio = l.startsWith('m=audio ');
      if (inAudio) port = l.split(' ')[1] ?? null;
    } else if (l.startsWith('c=')) {
      const addr = l.split(' ')[2] ?? null;
      if (inAudio) mediaAddr = addr;
      else if (port === null) sessionAddr = addr;
    }
  }
  const addr = mediaAddr ?? sessionAddr;
  return addr && port ? `${addr}:${port}` : null;
}
