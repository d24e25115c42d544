'use strict';
// npm run bench -- --mpi: the MPI backend's exchange (lib/distributed/mpi.ts over
// binding/core/mpi_channel.cc and the plugin) against raw MPI in a plain C program
// (bench/mpi_raw.c, compiled with mpicc), on the same buffer sizes, in the same run: rounds of
// (raw, ours) interleaved, each a fresh `mpirun -np 2`, over shared memory (Open MPI's vader)
// and over TCP on loopback (--mca btl self,tcp). % = raw time / our time (100 % = no overhead).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROUNDS = 5;
const RANKS = 2;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** bench/mpi_raw.c compiled with mpicc into build-bench/, or null with the reason printed. */
function rawProgram() {
  const dir = path.join(__dirname, '..', 'build-bench');
  const binary = path.join(dir, 'mpi_raw');
  const source = path.join(__dirname, 'mpi_raw.c');
  if (!fs.existsSync(binary) || fs.statSync(binary).mtimeMs < fs.statSync(source).mtimeMs) {
    fs.mkdirSync(dir, { recursive: true });
    execFileSync('mpicc', ['-O2', '-o', binary, source], { stdio: 'pipe' });
  }
  return binary;
}

function mpirun(transport, program) {
  const args = ['--allow-run-as-root', '--oversubscribe', '-np', String(RANKS)];
  if (transport === 'tcp') args.push('--mca', 'btl', 'self,tcp');
  const out = execFileSync('mpirun', [...args, ...program], {
    encoding: 'utf8',
    env: { ...process.env, OMPI_MCA_btl_vader_single_copy_mechanism: 'none' },
  });
  return JSON.parse(out.trim().split('\n').pop()).ns;
}

async function mpiTable(out) {
  const raw = rawProgram();
  const rank = path.join(__dirname, 'mpi-rank.js');
  out(`## MPI exchange against raw MPI (float32, ${RANKS} ranks, Open MPI)`);
  out();
  out('Raw: bench/mpi_raw.c, a plain C program on buffers of the same size. Sharded: MPI_Reduce_scatter_block + MPI_Allgather');
  out('("block") and MPI_Reduce_scatter + MPI_Allgatherv in place ("v", the calls the plugin makes); the faster of the two is the');
  out('baseline. Not sharded: MPI_Allreduce. Ours: the exchange the data-parallel optimizer runs in one step (the gradients\'');
  out('reduce-scatter and the parameters\' all-gather; not sharded, the all-reduce), from JavaScript through the MPI owner thread,');
  out('the same calls in buckets of 64 MiB. The gradients are already in the exchange buffer (× 1/ranks as a step copies them in:');
  out(`the copy a step makes anyway). Medians per run, median of ${ROUNDS} interleaved runs, each a fresh mpirun;`);
  out('% = raw time / our time.');
  out();
  out('| transport | elements | exchange | raw MPI ms | ours ms | % of raw MPI |');
  out('|---|---|---|---|---|---|');
  const figures = [];
  for (const transport of ['shared memory', 'tcp']) {
    for (const n of [1e6, 1e7]) {
      for (const mode of ['sharded', 'allreduce']) {
        const samples = n >= 1e7 ? 15 : 41;
        const ours = [];
        const raws = mode === 'sharded' ? { block: [], v: [] } : { allreduce: [] };
        for (let r = 0; r < ROUNDS; r++) {
          for (const [variant, times] of Object.entries(raws)) times.push(mpirun(transport, [raw, String(n), variant, String(samples)]));
          ours.push(mpirun(transport, [process.execPath, rank, JSON.stringify({ n, mode, samples })]));
        }
        const o = median(ours);
        const w = Math.min(...Object.values(raws).map(median));
        const pct = (100 * w) / o;
        figures.push({ transport, n, mode, pct });
        const what = mode === 'sharded' ? 'reduce-scatter + all-gather' : 'all-reduce (not sharded)';
        const detail = mode === 'sharded' ? ` (block ${(median(raws.block) / 1e6).toFixed(2)}, v ${(median(raws.v) / 1e6).toFixed(2)})` : '';
        out(`| ${transport} | ${n.toExponential(0)} | ${what} | ${(w / 1e6).toFixed(2)}${detail} | ${(o / 1e6).toFixed(2)} | **${pct.toFixed(0)}%** |`);
      }
    }
  }
  out();
  return figures;
}

module.exports = { mpiTable };
