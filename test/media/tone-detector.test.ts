/** The media tests' ears (test/freeswitch/rtp.ts) must be able to say no: G.711 decode and the Goertzel detector. */
import { describe, expect, it } from 'vitest';
import { toneShare, ulawToLinear } from '../freeswitch/rtp.js';

function ulaw(sample: number): number {
  // G.711 µ-law encoder (the reference one), to round-trip through the decoder under test
  const BIAS = 0x84;
  const sign = sample < 0 ? 0x80 : 0;
  let s = Math.min(32635, Math.abs(sample)) + BIAS;
  let exp = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exp > 0; exp--, mask >>= 1);
  const mant = (s >> (exp + 3)) & 0x0f;
  return ~(sign | (exp << 4) | mant) & 0xff;
}

const frame = (freq: number, amp = 8000) => Array.from({ length: 160 }, (_, i) => ulawToLinear(ulaw(Math.round(amp * Math.sin((2 * Math.PI * freq * i) / 8000)))));

describe('tone detection on PCMU frames', () => {
  it('decodes µ-law: silence, sign, full scale', () => {
    expect(ulawToLinear(0xff)).toBe(0);
    expect(Math.abs(ulawToLinear(0x7f))).toBe(0); // "negative zero"
    expect(ulawToLinear(0x00)).toBe(-32124);
    expect(ulawToLinear(0x80)).toBe(32124);
  });
  it('finds the tone it is asked for and not its neighbours 100 Hz away', () => {
    const f = frame(500);
    expect(toneShare(f, 500)).toBeGreaterThan(0.9);
    expect(toneShare(f, 600)).toBeLessThan(0.1);
    expect(toneShare(f, 400)).toBeLessThan(0.1);
    expect(toneShare(frame(1100), 1100)).toBeGreaterThan(0.9);
  });
  it('silence and noise hold no tone', () => {
    expect(toneShare(new Array(160).fill(0), 500)).toBe(0);
    let x = 1;
    const noise = Array.from({ length: 160 }, () => ((x = (x * 1103515245 + 12345) % 2 ** 31), (x % 20000) - 10000));
    expect(toneShare(noise, 500)).toBeLessThan(0.3);
  });
});
