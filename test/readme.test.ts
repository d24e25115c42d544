/**
 * Every TypeScript snippet of README.md runs: each ```ts block is compiled and executed with
 * 'rmsprop-native' (and 'rmsprop-native/tfjs') resolved to this checkout.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const root = path.join(__dirname, '..');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const snippets = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

it('README.md has TypeScript snippets', () => {
  expect(snippets.length).toBeGreaterThanOrEqual(3);
});

/** What a README comment after `console.log(x);` documents, as a check of the logged value. */
function documented(comment: string, value: unknown): boolean | undefined {
  const plain = (v: unknown): unknown => (ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v);
  const literal = /^(-?\d[\d.e+-]*|\[[^\]]*\])(?::|$)/.exec(comment);
  if (literal) {
    const want = JSON.parse(literal[1]) as number | number[];
    const got = plain(value);
    const close = (a: unknown, b: number) => typeof a === 'number' && Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));
    return Array.isArray(want)
      ? Array.isArray(got) && got.length === want.length && want.every((w, i) => close(got[i], w))
      : close(got, want);
  }
  const keys = /^\{ ([\w, ]+) \}/.exec(comment);
  if (keys) return keys[1].split(', ').every((k) => typeof value === 'object' && value !== null && k in value);
  return undefined; // prose ("updated in place"): nothing to compare
}

let compared = 0;

it.each(snippets.map((code, i) => [i + 1, code]))('snippet %i runs and logs what its comments say', async (_i, code) => {
  // `console.log(x); // 1` becomes a call that records x with its comment.
  const logged: { comment: string; value: unknown }[] = [];
  const instrumented = code.replace(/^(\s*)console\.log\((.*)\);\s*\/\/\s*(.*)$/gm, (_m, indent: string, expr: string, comment: string) =>
    `${indent}__documented(${JSON.stringify(comment)}, ${expr});`,
  );
  const js = ts.transpileModule(`${instrumented}\nexport {};`, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  }).outputText;
  const resolve = (name: string) =>
    name === 'rmsprop-native' ? root : name === 'rmsprop-native/tfjs' ? path.join(root, 'dist', 'tfjs.js') : name;
  const req = (name: string) => require(resolve(name));
  const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    const run = new Function('require', 'exports', '__documented', `return (async () => { ${js} })();`);
    await run(req, {}, (comment: string, value: unknown) => logged.push({ comment, value }));
  } finally {
    log.mockRestore();
  }
  for (const { comment, value } of logged) {
    const ok = documented(comment, value);
    if (ok === undefined) continue;
    compared++;
    if (!ok) throw new Error(`README says \`// ${comment}\` but the snippet logged ${JSON.stringify(value, (_k, v) => (ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v))}`);
  }
});

it('the documented outputs were compared (at least the quick start\'s and the groups\' ones)', () => {
  expect(compared).toBeGreaterThanOrEqual(3);
});
