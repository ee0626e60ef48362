/** Secrets: compared in constant time (hashing first makes the lengths equal, so not even the length leaks). */
import { createHash, timingSafeEqual } from 'node:crypto';

const sha = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export function sameSecret(given: string, secret: string): boolean {
  return timingSafeEqual(sha(given), sha(secret));
}
