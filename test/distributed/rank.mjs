// An ES module rank (test/distributed.test.ts): distributed.launch runs ESM files as well.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { distributed, RMSProp, Parameter } = await import(require.resolve('../..'));

const comm = await distributed.init();
const w = new Parameter(new Float32Array(40).fill(comm.rank), 'w');
const opt = new RMSProp([w], { learningRate: 0.1, communicator: comm });
opt.step([new Float32Array(40).fill(comm.rank + 1)]);
fs.writeFileSync(path.join(process.argv[2], `rank-${comm.rank}.json`), JSON.stringify({ rank: comm.rank, size: comm.size, backend: comm.backend, w: Array.from(w.data) }));
