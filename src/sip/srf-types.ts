/**
 * The typed surface of drachtio-srf this app uses. srf's bundled types are wrong in places (connect() returns
 * Srf, request() has another signature, destroy() returns a Promise), so we declare only what we call, checked
 * against drachtio-srf 5.0.29's lib/srf.js, lib/dialog.js and lib/sip-parser/message.js.
 */
import type { EventEmitter } from 'node:events';

export type Headers = Record<string, string>;

export interface SipMessage {
  readonly method?: string;
  readonly uri: string;
  readonly body?: string;
  readonly status?: number;
  readonly reason?: string;
  readonly headers: Record<string, string>;
  get(name: string): string | undefined;
  has(name: string): boolean;
  getParsedHeader(name: 'From' | 'To' | 'from' | 'to'): { name?: string; uri: string; params: Record<string, string> };
}

export interface SrfRequest extends SipMessage, EventEmitter {
  readonly method: string;
  readonly source_address: string;
  readonly source_port: number;
  readonly protocol: string;
  readonly receivedOn?: string;
  canceled?: boolean;
  cancel(opts?: { headers?: Headers }): void;
}

export interface SrfResponse extends EventEmitter {
  readonly finalResponseSent: boolean;
  send(status: number, reason?: string, opts?: { headers?: Headers; body?: string }): void;
  send(status: number, opts?: { headers?: Headers; body?: string }): void;
}

export interface SipError extends Error {
  status: number;
  reason?: string;
  res?: SipMessage;
}

/** An established dialog (one leg). 'destroy' fires only for the REMOTE side's BYE, never for our destroy(). */
export interface Dialog extends EventEmitter {
  readonly id: string;
  readonly sip: { callId: string; localTag: string; remoteTag: string };
  other?: Dialog;
  /** SDP we sent on this leg, and the remote side's (srf keeps them current across re-INVITEs) */
  readonly local: { sdp?: string };
  readonly remote: { sdp?: string };
  destroy(opts?: { headers?: Headers }): Promise<unknown>;
  modify(sdp: string, opts?: { headers?: Headers }): Promise<string>;
  request(opts: { method: string; headers?: Headers; body?: string }): Promise<SipMessage>;
}

export interface B2buaOptions {
  headers?: Headers;
  proxyRequestHeaders?: string[];
  proxyResponseHeaders?: string[];
  passFailure?: boolean;
  passProvisionalResponses?: boolean;
  /** Headers for each A-leg response relaying a B-leg response (srf calls it with that response). */
  responseHeaders?: (uacRes: SipMessage, headers: Headers) => Headers;
  /** SDP for the A-leg answer from B's SDP; throwing refuses the A answer and srf tears the B leg down. */
  localSdpA?: (sdpB: string, res: SipMessage) => string | Promise<string>;
}

export interface B2buaCallbacks {
  cbRequest?: (err: Error | null, uacReq: SrfRequest) => void;
  cbProvisional?: (res: SipMessage) => void;
  cbFinalizedUac?: (uac: Dialog) => void;
}

/** A connected Srf instance, typed. Obtain one with connectSrf() or asTypedSrf(new Srf()). */
export interface TypedSrf extends EventEmitter {
  invite(fn: (req: SrfRequest, res: SrfResponse) => void): void;
  options(fn: (req: SrfRequest, res: SrfResponse) => void): void;
  createB2BUA(req: SrfRequest, res: SrfResponse, uri: string, opts: B2buaOptions, cbs: B2buaCallbacks): Promise<{ uas: Dialog; uac: Dialog }>;
  /** With stackDialogId: a request inside a dialog the server holds, found by its id (the uri is then ignored). */
  request(uri: string, opts: { method: string; headers?: Headers; body?: string; stackDialogId?: string }): Promise<SrfRequest>;
  /** Send the server `remove_route|<verb>`: no more new requests of that method for this connection. */
  unregisterForMessages(verb: string): void;
  disconnect(): void;
}

/** Narrow an untyped drachtio-srf instance to the surface above (the shapes were checked against its source). */
export function asTypedSrf(srf: unknown): TypedSrf {
  return srf as TypedSrf;
}
