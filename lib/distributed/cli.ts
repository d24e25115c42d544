#!/usr/bin/env node
/**
 * `npx rmsprop-native-launch -n N [--timeout-ms T] script.js [args…]`: runs the script as N
 * data-parallel ranks (worker threads of one process; `distributed.launch`). Exits 0 when every
 * rank finished, 1 with the first rank's error otherwise.
 */
import { launch } from './launch';

const USAGE = 'usage: rmsprop-native-launch -n N [--timeout-ms T] script.js [args...]';

function parse(argv: readonly string[]): { workers: number; timeoutMs?: number; file: string; args: string[] } {
  let workers: number | undefined;
  let timeoutMs: number | undefined;
  let i = 0;
  for (; i < argv.length && argv[i].startsWith('-'); i += 2) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === '-h' || flag === '--help') throw new Error(USAGE);
    if (value === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
    if (flag === '-n' || flag === '--workers') workers = Number(value);
    else if (flag === '--timeout-ms') timeoutMs = Number(value);
    else throw new Error(`unknown option ${flag}\n${USAGE}`);
  }
  if (workers === undefined) throw new Error(`-n N is required\n${USAGE}`);
  if (i >= argv.length) throw new Error(`a script is required\n${USAGE}`);
  return { workers, timeoutMs, file: argv[i], args: argv.slice(i + 1) };
}

async function main(): Promise<void> {
  const { workers, timeoutMs, file, args } = parse(process.argv.slice(2));
  await launch(file, { workers, argv: args, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
}

main().catch((e: Error) => {
  process.stderr.write(`rmsprop-native-launch: ${e.message}\n`);
  process.exitCode = 1;
});
