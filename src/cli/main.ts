/** `softswitch` CLI entry point (bin/softswitch.js runs this): the process streams and environment. */
import { runCli } from './run.js';

runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`softswitch: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
