/**
 * One webhook POST to an address already checked (src/notify/webhook-target.ts): the connection goes to exactly that
 * address (a lookup pinned to it; the URL's host name still gives the Host header, TLS SNI and the certificate
 * check), on a connection of its own (no pooled socket made for another answer of DNS). Only the status code is
 * kept: the answer's body is never read, so no receiver's text (an internal service's page, its error details)
 * reaches the row a tenant can read; failures are short fixed reasons, never the socket error's text.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';

/** A lookup that answers the checked address, whatever it is asked (net.connect asks with all: true in Node 20). */
function pinned(address: string, family: 4 | 6): LookupFunction {
  return ((_host: string, options: { all?: boolean }, cb: (...a: unknown[]) => void) => {
    if (options.all) cb(null, [{ address, family }]);
    else cb(null, address, family);
  }) as unknown as LookupFunction;
}

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;

/** The fixed reason of a failed request (no text of the far end, no address or port of ours). */
function reasonOf(e: unknown): string {
  const code = String((e as { code?: unknown }).code ?? '');
  if (code === 'ECONNREFUSED') return 'request failed: connection refused';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'request failed: connection reset';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ETIMEDOUT') return 'request failed: host unreachable';
  if (TLS_CODE.test(code)) return 'request failed: TLS failure';
  return 'request failed';
}

/** POST `body` to `url` at `address`; null when the receiver answered 2xx, else the error text for the row. */
export function postWebhook(
  url: URL, to: { address: string; family: 4 | 6 }, body: string, idempotencyKey: string, timeoutMs: number,
): Promise<string | null> {
  return new Promise((resolve) => {
    let done = false;
    const settle = (error: string | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(error);
    };
    const onResponse = (res: IncomingMessage): void => {
      const status = res.statusCode ?? 0;
      res.destroy(); // the body is not ours to keep
      // a redirect is an answer of the receiver's to fix, not a reason to POST elsewhere
      settle(status >= 200 && status < 300 ? null : `HTTP ${status}`);
    };
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)({
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port || undefined, path: `${url.pathname}${url.search}`, method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'idempotency-key': idempotencyKey },
      lookup: pinned(to.address, to.family), agent: false,
    }, onResponse);
    const timer = setTimeout(() => {
      settle(`no answer within ${timeoutMs} ms`);
      req.destroy();
    }, timeoutMs);
    req.on('error', (e) => settle(reasonOf(e)));
    req.end(body);
  });
}
