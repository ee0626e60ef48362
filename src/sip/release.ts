/**
 * Memory of a live call. drachtio-srf's Dialog keeps the Request and Response that formed it (an
 * INVITE and its 200 with every header parsed, plus, through their listeners, the closures of createB2BUA) for the
 * dialog's whole life, although after its constructor it reads only res.stackDialogId (`id`), req.method
 * (`dialogType`), req.socket (`socket`, where in-dialog requests go) and, for SUBSCRIBE dialogs only, req.get('Event').
 * Once a call is connected its two dialogs keep just those fields: about two thirds of what a live call retained.
 */
import type { Dialog } from './srf-types.js';

interface SrfDialogInternals {
  req?: { method?: string; socket?: unknown } | null;
  res?: { stackDialogId?: string } | null;
}

/** Replace an INVITE dialog's formative messages with the fields srf still reads; other dialogs are left alone. */
export function releaseDialogMessages(d: Dialog): void {
  const x = d as unknown as SrfDialogInternals;
  const { req, res } = x;
  if (!req || !res || req.method !== 'INVITE' || typeof res.stackDialogId !== 'string') return;
  x.req = { method: req.method, socket: req.socket };
  x.res = { stackDialogId: res.stackDialogId };
}
