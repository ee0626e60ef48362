/**
 * RFC 3261 §17 timer values. Tests may shrink them (scale) to exercise timeouts quickly; `sessionSecond` (ms in one
 * RFC 4028 Session-Expires second, default 1000) likewise, since session intervals are at least 90 s.
 */
export interface SipTimers { T1: number; T2: number; T4: number; sessionSecond?: number }

export const DEFAULT_TIMERS: SipTimers = { T1: 500, T2: 4000, T4: 5000 };
