/** RFC 3261 §17 timer values. Tests may shrink them (scale) to exercise timeouts quickly. */
export interface SipTimers { T1: number; T2: number; T4: number }

export const DEFAULT_TIMERS: SipTimers = { T1: 500, T2: 4000, T4: 5000 };
