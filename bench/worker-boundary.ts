/**
 * What handing a batch to a worker thread would cost the ingest (docs/state.md "What remains": the
 * CPU work of a batch off the event loop). Not a test: it measures and prints.
 *
 *   node --import tsx bench/worker-boundary.ts [records per batch, default 300] [rounds, default 400]
 *
 * One round trip per batch, as a worker-per-partition-group design would make it: the batch's
 * record values (300-byte Buffers, the Avro bodies' size) go to the worker, and the batch's
 * results come back as one string of SQL row text (~900 bytes a row, what writeBatch sends) and a
 * small decision object per record. Two ways in: the Buffers as they are (structured clone, a
 * copy) and packed into one ArrayBuffer that is transferred (no copy). Printed per transaction:
 * the main thread's busy time (`performance.eventLoopUtilization`, what the event loop would pay),
 * the process's CPU in all (both threads, `process.cpuUsage`, the worker's work included), and
 * the wall time of a round trip (p50, the latency it adds).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

type Mode = 'copy' | 'transfer';

interface Reply {
  rows: string;
  decisions: Array<{ id: string; decision: string; score: number }>;
}

/**
 * The worker, plain JavaScript (`eval`: a worker does not inherit the tsx loader): reads the
 * batch, answers with rows and decisions of its length.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const ROW = 'x'.repeat(900);
parentPort.on('message', (m) => {
  const count = workerData.mode === 'copy' ? m.length : new DataView(m).getUint32(0);
  const rows = [];
  const decisions = [];
  for (let i = 0; i < count; i++) {
    rows.push(ROW + i);
    decisions.push({ id: 'tx-' + i, decision: 'ALLOW', score: i / 1000 });
  }
  parentPort.postMessage({ rows: rows.join(','), decisions });
});
`;

/** The batch as one transferable ArrayBuffer: count, then each value's length and bytes. */
function pack(values: readonly Buffer[]): ArrayBuffer {
  let total = 4;
  for (const v of values) total += 4 + v.length;
  const ab = new ArrayBuffer(total);
  const view = new DataView(ab);
  const bytes = new Uint8Array(ab);
  view.setUint32(0, values.length);
  let at = 4;
  for (const v of values) {
    view.setUint32(at, v.length);
    bytes.set(v, at + 4);
    at += 4 + v.length;
  }
  return ab;
}

async function measure(mode: Mode, records: number, rounds: number): Promise<void> {
  const worker = new Worker(WORKER, { eval: true, workerData: { mode } });
  const values = Array.from({ length: records }, () => randomBytes(300));
  let resolve: ((r: Reply) => void) | null = null;
  worker.on('message', (r: Reply) => resolve?.(r));
  const roundTrip = (): Promise<Reply> =>
    new Promise((r) => {
      resolve = r;
      if (mode === 'copy') worker.postMessage(values);
      else {
        const ab = pack(values);
        worker.postMessage(ab, [ab]);
      }
    });
  const run = async (n: number) => {
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = process.cpuUsage();
    const walls: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      const reply = await roundTrip();
      if (reply.decisions.length !== records) throw new Error('short reply');
      walls.push(performance.now() - t);
    }
    const elu = performance.eventLoopUtilization(elu0);
    const cpu = process.cpuUsage(cpu0);
    walls.sort((a, b) => a - b);
    const tx = n * records;
    return {
      mainBusyUs: (elu.active * 1000) / tx,
      processCpuUs: (cpu.user + cpu.system) / tx,
      wallP50Ms: walls[walls.length >> 1] as number,
    };
  };
  await run(Math.min(50, rounds)); // warm-up
  const r = await run(rounds);
  await worker.terminate();
  console.log(
    `  ${mode.padEnd(8)} ${String(records).padStart(5)} records: main thread ${r.mainBusyUs.toFixed(2)} µs/tx busy, ` +
      `process ${r.processCpuUs.toFixed(2)} µs/tx CPU (both threads), round trip p50 ${r.wallP50Ms.toFixed(2)} ms`,
  );
}

{
  const records = Number(process.argv[2] ?? 300);
  const rounds = Number(process.argv[3] ?? 400);
  console.log(`worker boundary: ${rounds} batches of ${records} records each way, then 4× the records`);
  for (const mode of ['copy', 'transfer'] as const) {
    await measure(mode, records, rounds);
    await measure(mode, records * 4, Math.max(10, rounds >> 2));
  }
}
