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

it.each(snippets.map((code, i) => [i + 1, code]))('snippet %i runs', async (_i, code) => {
  const js = ts.transpileModule(`${code}\nexport {};`, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  }).outputText;
  const resolve = (name: string) =>
    name === 'rmsprop-native' ? root : name === 'rmsprop-native/tfjs' ? path.join(root, 'dist', 'tfjs.js') : name;
  const req = (name: string) => require(resolve(name));
  const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    const run = new Function('require', 'exports', `return (async () => { ${js} })();`);
    await run(req, {});
  } finally {
    log.mockRestore();
  }
});
