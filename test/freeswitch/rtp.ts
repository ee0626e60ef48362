/**
 * The test's side of the media: a UDP socket standing for a phone's RTP port. It counts RTP packets, decodes the
 * PCMU payload (G.711 µ-law) and finds tones in it with the Goertzel algorithm, so a test can tell which prompt a
 * leg heard (each test prompt is a tone of its own frequency) and that the other leg heard nothing.
 */
import { createSocket, type Socket } from 'node:dgram';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** G.711 µ-law byte → 16-bit linear sample. */
export function ulawToLinear(u: number): number {
  const x = ~u & 0xff;
  const sign = x & 0x80;
  const exponent = (x >> 4) & 0x07;
  const mantissa = x & 0x0f;
  const magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
  return sign ? -magnitude : magnitude;
}

/** Share of a frame's energy at `freq` (Goertzel power normalized by the frame's total power, 0..1). */
export function toneShare(frame: ArrayLike<number>, freq: number, rate = 8000): number {
  const n = frame.length;
  const k = Math.round((n * freq) / rate);
  const w = (2 * Math.PI * k) / n;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (let i = 0; i < n; i++) {
    const x = frame[i]!;
    energy += x * x;
    const s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  if (energy === 0) return 0;
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  // a pure tone at a bin frequency gives power = energy * n / 2
  return power / ((energy * n) / 2);
}

export interface RtpSink {
  port: number;
  packets(): number;
  /** 20 ms frames (160 samples) in which `freq` holds most of the energy */
  toneFrames(freq: number): number;
  /** frames that are not near-silence */
  loudFrames(): number;
  /** the frequency among `freqs` found in the most frames, with its count */
  dominant(freqs: number[]): { freq: number; frames: number } | null;
  reset(): void;
  close(): Promise<void>;
}

export async function openRtpSink(): Promise<RtpSink> {
  const sock: Socket = createSocket('udp4');
  let count = 0;
  let frames: Int16Array[] = [];
  sock.on('message', (m) => {
    if (m.length < 12 || (m[0]! & 0xc0) !== 0x80) return; // not RTP v2
    count++;
    const pt = m[1]! & 0x7f;
    if (pt !== 0) return; // PCMU only (telephone-event etc. ignored)
    const cc = m[0]! & 0x0f;
    const payload = m.subarray(12 + 4 * cc);
    const f = new Int16Array(payload.length);
    for (let i = 0; i < payload.length; i++) f[i] = ulawToLinear(payload[i]!);
    frames.push(f);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const toneFrames = (freq: number) => frames.filter((f) => f.length >= 80 && toneShare(f, freq) > 0.6).length;
  return {
    port: sock.address().port,
    packets: () => count,
    toneFrames,
    loudFrames: () => frames.filter((f) => f.reduce((s, x) => s + x * x, 0) / f.length > 100 * 100).length,
    dominant(freqs) {
      const best = freqs.map((freq) => ({ freq, frames: toneFrames(freq) })).sort((a, b) => b.frames - a.frames)[0];
      return best && best.frames > 0 ? best : null;
    },
    reset() {
      count = 0;
      frames = [];
    },
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
}

/** A WAV file (8 kHz mono 16-bit PCM, what the prompts are) holding a sine of `freq` Hz for `seconds`. */
export function toneWav(file: string, freq: number, seconds: number): void {
  const n = Math.round(8000 * seconds);
  const data = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) data.writeInt16LE(Math.round(12000 * Math.sin((2 * Math.PI * freq * i) / 8000)), i * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(8000, 24);
  h.writeUInt32LE(16000, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  writeFileSync(file, Buffer.concat([h, data]));
}

/** Test prompts: every prompt and language a tone of its own frequency (Hz), `seconds` long. */
export const TONES = {
  zh: { no_balance: 500, outside_hours: 700, tenant_suspended: 900, low_credit: 1100 },
  en: { no_balance: 600, outside_hours: 800, tenant_suspended: 1000, low_credit: 1200 },
} as const;
export const ALL_TONES = Object.values(TONES).flatMap((l) => Object.values(l));

export function makeTonePrompts(dir: string, seconds: number): void {
  for (const [lang, prompts] of Object.entries(TONES)) {
    mkdirSync(join(dir, lang), { recursive: true });
    for (const [name, freq] of Object.entries(prompts)) toneWav(join(dir, lang, `${name}.wav`), freq, seconds);
  }
}
