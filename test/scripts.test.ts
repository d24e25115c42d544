/**
 * The developer scripts a newcomer meets first: no npm script is another's pre/post hook by
 * accident, `demo` and `bench` rebuild only what is out of date, and installing a prebuild never
 * disturbs a process that has the old one loaded, nor destroys it when the build fails.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
// A plain CommonJS script of the repository.
const { installStaged } = require('../scripts/prebuilds.js') as {
  installStaged: (staged: string, prebuilds: string, folder: string) => string[];
};

/**
 * Hooks that are meant to run before or after another script: `prepack` builds dist/ and checks
 * both prebuilds before `npm pack` / `npm publish` (scripts/prepack.js); it never runs when
 * users install the package from the registry.
 */
const INTENDED_HOOKS: string[] = ['prepack'];
/** npm lifecycle scripts that run on `npm install`, `npm pack` or `npm publish` without being asked. */
const LIFECYCLE = ['preinstall', 'install', 'postinstall', 'prepublish', 'preprepare', 'prepare', 'postprepare', 'prepack', 'postpack', 'prepublishOnly', 'publish', 'postpublish'];

describe('package.json scripts', () => {
  test('no script is the pre/post hook of another one (npm would run it before or after that one)', () => {
    const accidental = Object.keys(pkg.scripts).filter((name) => {
      if (INTENDED_HOOKS.includes(name)) return false;
      const hooked = /^(pre|post)(.+)$/.exec(name)?.[2];
      return hooked !== undefined && (hooked in pkg.scripts || LIFECYCLE.includes(name));
    });
    expect(accidental).toEqual([]);
  });

  test('every script the package ships finds the local modules it requires in the package too', () => {
    const files = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { files: string[] }).files;
    const shipped = files.filter((f) => f.startsWith('scripts/') && f.endsWith('.js'));
    expect(shipped.length).toBeGreaterThan(0);
    const missing: string[] = [];
    for (const script of shipped) {
      const source = fs.readFileSync(path.join(root, script), 'utf8');
      for (const [, request] of source.matchAll(/require\('(\.\.?\/[^']+)'\)/g)) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(script), request));
        const candidates = [target, `${target}.js`];
        if (!candidates.some((c) => files.some((f) => c === f || c.startsWith(f.endsWith('/') ? f : `${f}/`)))) {
          missing.push(`${script} requires ${request}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  test('no install lifecycle script, and no pack or publish one but the intended prepack (users install prebuilt binaries, nothing runs)', () => {
    expect(Object.keys(pkg.scripts).filter((name) => LIFECYCLE.includes(name) && !INTENDED_HOOKS.includes(name))).toEqual([]);
  });

  test('demo and bench build through scripts/ensure-built.js, which rebuilds nothing when up to date', () => {
    for (const name of ['demo', 'bench']) expect(pkg.scripts[name]).toMatch(/^node scripts\/ensure-built\.js && /);
    // npm test ran ensure-built before jest, and nothing has changed since.
    const out = execFileSync(process.execPath, [path.join(root, 'scripts', 'ensure-built.js')], { cwd: root, encoding: 'utf8' });
    expect(out).toBe('');
  });

  test('after a change that needs no relinking of the addon, ensure-built builds once, then nothing', () => {
    // The arm64 toolchain file counts as a native source but changes nothing in this build: the
    // addon keeps its old time after it.
    const header = path.join(root, 'cmake', 'aarch64-linux-gnu.cmake');
    const now = new Date();
    fs.utimesSync(header, now, now);
    const ensure = () => execFileSync(process.execPath, [path.join(root, 'scripts', 'ensure-built.js')], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(ensure()).toContain('npm run build:native');
    expect(ensure()).toBe('');
  }, 120_000);
});

/** A throwaway copy of the package whose addon is loaded from prebuilds/ (no build/ folder). */
function packageCopy(): { dir: string; prebuild: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rmsprop-install-'));
  fs.copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
  fs.cpSync(path.join(root, 'dist'), path.join(dir, 'dist'), { recursive: true });
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  const prebuild = path.join(dir, 'prebuilds', `${process.platform}-${process.arch}`, 'rmsprop-native.glibc.node');
  fs.mkdirSync(path.dirname(prebuild), { recursive: true });
  fs.copyFileSync(path.join(root, 'build', 'Release', 'rmsprop_native.node'), prebuild);
  return { dir, prebuild };
}

// A child that loads the prebuild, says so, waits for a line on stdin, then keeps stepping.
const STEPPER = `
const { Parameter, RMSProp } = require(process.argv[1]);
const loaded = Object.keys(require.cache).find((f) => f.endsWith('.node')) || '';
const run = () => {
  let last = 0;
  for (let i = 0; i < 300; i++) {
    const p = new Parameter(new Float32Array(4096).fill(1), 'w');
    const opt = new RMSProp([p], { centered: i % 2 === 1 });
    for (let k = 0; k < 5; k++) opt.step([new Float32Array(4096).fill(0.1)]);
    last = p.data[4095];
  }
  return last;
};
const before = run();
process.stdout.write('loaded ' + loaded + '\\n');
process.stdin.once('data', () => {
  const after = run();
  process.stdout.write(after === before ? 'same ' + after + '\\n' : 'differs ' + before + ' ' + after + '\\n');
  process.exit(0);
});
`;

describe('installing a prebuild', () => {
  test('a process with the old prebuild loaded keeps stepping while the new one is installed, and exits cleanly', async () => {
    const { dir, prebuild } = packageCopy();
    try {
      const child = spawn(process.execPath, ['-e', STEPPER, path.join(dir, 'dist', 'index.js')], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.on('exit', (code, signal) => resolve({ code, signal })),
      );
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve();
        });
        child.on('exit', () => reject(new Error(`child exited before loading: ${out}${err}`)));
      });
      expect(out).toContain(`loaded ${prebuild}`);

      // The "new build": a different, much smaller file. Rewritten in place, it would cut the
      // pages the child executes from under it (SIGBUS); renamed into place, the child keeps its own.
      const staged = path.join(dir, 'stage');
      const folder = `${process.platform}-${process.arch}`;
      fs.mkdirSync(path.join(staged, folder), { recursive: true });
      fs.writeFileSync(path.join(staged, folder, path.basename(prebuild)), Buffer.alloc(4096, 7));
      expect(installStaged(staged, path.join(dir, 'prebuilds'), folder)).toEqual([prebuild]);
      expect(fs.readFileSync(prebuild)).toEqual(Buffer.alloc(4096, 7));
      expect(fs.readdirSync(path.dirname(prebuild))).toEqual([path.basename(prebuild)]); // no temporary left

      child.stdin.write('go\n');
      const { code, signal } = await exited;
      expect({ code, signal, err }).toEqual({ code: 0, signal: null, err: '' });
      expect(out).toMatch(/\nsame /);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a prebuild that fails to build leaves the previous prebuild in place', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rmsprop-failed-prebuild-'));
    try {
      // The scripts and package.json without CMakeLists.txt: cmake-js fails.
      fs.mkdirSync(path.join(dir, 'scripts'));
      for (const f of ['prebuilds.js', 'install-binary.js', 'on-path.js', 'cmake-js-as-node-gyp.js']) {
        fs.copyFileSync(path.join(root, 'scripts', f), path.join(dir, 'scripts', f));
      }
      fs.copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
      fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
      const previous = path.join(dir, 'prebuilds', `${process.platform}-${process.arch}`, 'rmsprop-native.glibc.node');
      fs.mkdirSync(path.dirname(previous), { recursive: true });
      fs.writeFileSync(previous, 'the previous good prebuild');

      const result = spawnSync(process.execPath, [path.join(dir, 'scripts', 'prebuilds.js'), process.arch], { cwd: dir, encoding: 'utf8' });
      expect(result.status).toBe(1);
      expect(fs.readFileSync(previous, 'utf8')).toBe('the previous good prebuild');
      expect(fs.readdirSync(path.dirname(previous))).toEqual([path.basename(previous)]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an unknown architecture, or a cross build without its toolchain when asked for by name, is an error that says why', () => {
    const unknown = spawnSync(process.execPath, [path.join(root, 'scripts', 'prebuilds.js'), 'sparc'], { cwd: root, encoding: 'utf8' });
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/unknown architecture 'sparc'/);
    if (process.arch === 'x64') {
      // A PATH with node alone: no cross compiler, so nothing is built.
      const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'rmsprop-bin-'));
      fs.symlinkSync(process.execPath, path.join(bin, 'node'));
      try {
        const cross = spawnSync(process.execPath, [path.join(root, 'scripts', 'prebuilds.js'), 'arm64'], {
          cwd: root,
          encoding: 'utf8',
          env: { ...process.env, PATH: bin },
        });
        expect(cross.status).toBe(1);
        expect(cross.stderr).toMatch(/linux-arm64 not built: aarch64-linux-gnu-g\+\+ is not on PATH \(apt-get install g\+\+-aarch64-linux-gnu\)/);
      } finally {
        fs.rmSync(bin, { recursive: true, force: true });
      }
    }
  });
});
