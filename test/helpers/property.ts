/**
 * Reproducible property runs: every fast-check run uses a recorded seed, printed before the run, so a failure seen
 * once (in CI, or under load) can be replayed exactly with PROPERTY_SEED=<seed>. fast-check also prints the seed and
 * the shrunk counterexample path when a property fails.
 */
export function propertyRun(name: string, numRuns: number): { seed: number; numRuns: number } {
  const fromEnv = process.env.PROPERTY_SEED;
  const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
  if (!Number.isInteger(seed)) throw new Error(`PROPERTY_SEED must be an integer, got ${JSON.stringify(fromEnv)}`);
  console.log(`${name}: fast-check seed ${seed}, ${numRuns} run(s) (PROPERTY_SEED=${seed} repeats them)`);
  return { seed, numRuns };
}
