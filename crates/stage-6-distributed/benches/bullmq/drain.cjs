'use strict';
// BullMQ, the job queue most Node programs use, draining no-op jobs from a Redis, for stage 6's
// benchmark (crates/stage-6-distributed/benches/distributed.rs), which starts this script on the
// same private Redis it drains stage 6's jobs from.
//
//   node drain.cjs <redis+unix:///path/redis.sock | redis://host:port> <jobs> <concurrency>
//
// It adds the jobs first (untimed), then starts one worker of <concurrency> and times it from its
// start until every job has completed. Results are kept, as BullMQ keeps them by default. It
// prints one line of JSON: the seconds the drain took, the commands Redis ran meanwhile (those
// inside BullMQ's Lua scripts included), and the jobs as BullMQ counts them.
const { Queue, Worker } = require('bullmq');
const { Redis } = require('ioredis');

// The project's URL forms, as ioredis options.
function connectionFrom(url) {
  if (url.startsWith('redis+unix://')) {
    return { path: url.slice('redis+unix://'.length) };
  }
  const parsed = new URL(url);
  return { host: parsed.hostname || '127.0.0.1', port: Number(parsed.port || 6379) };
}

// The commands the server has run since it started, those inside scripts included.
async function commandsProcessed(client) {
  const stats = await client.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(stats)[1]);
}

// Adds `total` no-op jobs in pipelines of a thousand.
async function preload(queue, total) {
  for (let first = 0; first < total; first += 1000) {
    const count = Math.min(1000, total - first);
    const jobs = Array.from({ length: count }, (_, k) => ({ name: 'noop', data: { n: first + k } }));
    await queue.addBulk(jobs);
  }
}

async function main() {
  const [url, jobsArgument, concurrencyArgument] = process.argv.slice(2);
  const total = Number(jobsArgument);
  const concurrency = Number(concurrencyArgument);
  if (!url || !(total > 0) || !(concurrency > 0)) {
    throw new Error('usage: node drain.cjs <redis url> <jobs> <concurrency>');
  }
  const connection = connectionFrom(url);
  const name = `drain-${process.pid}-${Date.now()}`;
  const queue = new Queue(name, { connection });
  queue.on('error', error => console.error('queue:', error.message));
  await queue.waitUntilReady();
  await preload(queue, total);
  // A connection of its own, to count the commands, so that BullMQ's clients stay its own.
  const client = new Redis(connection);
  const commandsBefore = await commandsProcessed(client);

  let ended = 0;
  let failed = 0;
  let allEnded;
  const finished = new Promise(resolve => { allEnded = resolve; });
  const end = () => { ended += 1; if (ended === total) allEnded(); };
  const started = process.hrtime.bigint();
  const worker = new Worker(name, async () => null, { connection, concurrency, autorun: false });
  worker.on('completed', end);
  worker.on('failed', (_job, error) => { failed += 1; console.error('failed:', error.message); end(); });
  worker.on('error', error => console.error('worker:', error.message));
  await worker.waitUntilReady();
  const running = worker.run();
  await finished;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  // Less the INFO that counted them.
  const commands = (await commandsProcessed(client)) - commandsBefore - 1;

  await worker.close();
  await running;
  const counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'active');
  await queue.obliterate({ force: true });
  await queue.close();
  await client.quit();
  console.log(JSON.stringify({ seconds, commands, jobs: total, concurrency, counts }));
  if (failed !== 0 || counts.completed !== total) process.exitCode = 1;
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
