/**
 * The real `softswitch` CLI in tests. `runCliIn` calls runCli (what bin/softswitch.js runs) in this process with
 * captured output: fast, for the many operator steps tests take. `spawnCli` runs bin/softswitch.js as a process, for
 * exit codes and output exactly as an operator sees them.
 */
import { spawn } from 'node:child_process';
import { runCli } from '../../src/cli/run.js';
import { projectPath } from '../../src/util/paths.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCliIn(args: string[], env: Record<string, string>): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: { write: (c: string) => ((stdout += c), true), once: () => undefined },
    stderr: { write: (c: string) => ((stderr += c), true) },
    env,
  });
  return { code, stdout, stderr };
}

export function spawnCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [projectPath('bin', 'softswitch.js'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
