'use strict';
// One rank of bench/mpi.js (run under mpirun): argv = [JSON config]. Times the library's MPI
// exchange on `n` float32 elements, as the data-parallel optimizer calls it in one step:
//   { mode: 'sharded' }:   the reduce-scatter of the gradients into this rank's piece of the
//                          mean + the all-gather of the parameters (binding/core/mpi_channel.cc)
//   { mode: 'allreduce' }: not sharded: the mean of the whole gradients on every rank
// through the same objects the optimizer uses (the communicator's exchange over a shard layout),
// each sample after a barrier, as bench/mpi_raw.c does. Rank 0 prints {"ns": median}.
const { distributed, Parameter } = require('..');
const { ShardLayout } = require('../dist/distributed/layout');

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main() {
  const config = JSON.parse(process.argv[2]);
  const comm = await distributed.init();
  const w = new Parameter(new Float32Array(config.n), 'w');
  const layout = new ShardLayout([{ param: w, gradCentralization: false }], comm.size);
  const sharded = config.mode === 'sharded';
  const exchange = comm.collectives.exchange({ layout, rank: comm.rank, size: comm.size, sharded, bucketBytes: config.bucketBytes || 64 << 20 });
  const g = layout.groups[0];
  const pieces = [new Float32Array(g.cuts[comm.rank + 1] - g.cuts[comm.rank])];
  exchange.send[0].forEach((_, j, a) => (a[j] = (j % 1000) * 0.001 + comm.rank));
  const times = [];
  for (let k = -3; k < config.samples; k++) {
    comm.collectives.barrier();
    const t0 = process.hrtime.bigint();
    exchange.reduce(pieces, false);
    if (sharded) exchange.gather();
    if (k >= 0) times.push(Number(process.hrtime.bigint() - t0));
  }
  if (comm.rank === 0) console.log(JSON.stringify({ ns: median(times) }));
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
