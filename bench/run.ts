/**
 * `npm run bench`: every benchmark in one run, printed as one table (figures side by side).
 * Machine details are printed first so a table can be compared with another machine's.
 * `npm run bench -- sharing analysis` runs only the named sections.
 */
import '../server/runtime.js'; // onnxruntime-node and worker-thread pruning under the shared engine
import { cpus, totalmem } from 'node:os';
import { benchAnalysis } from './analysis.js';
import { benchBrowser } from './browser.js';
import { benchEngine } from './engine.js';
import { benchFeatures } from './features.js';
import { benchNeurons } from './neurons.js';
import { benchRooms } from './rooms.js';
import { benchSharing } from './sharing.js';
import { benchTransport } from './transport.js';
import { table, type BenchRow } from './report.js';

const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(`machine: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${new Date().toISOString()}`);
// `npm run bench -- NAME ...` runs only the named sections.
const sections: Record<string, () => Promise<BenchRow[]>> = {
  engine: benchEngine, transport: benchTransport, analysis: benchAnalysis, neurons: benchNeurons, browser: benchBrowser,
  sharing: benchSharing, features: benchFeatures,
  rooms: benchRooms,
  'browser-engine': async () => (await import('./browser-engine.js')).benchBrowserEngine(),
};
const only = process.argv.slice(2);
const unknown = only.filter((name) => !(name in sections));
if (unknown.length > 0) throw new Error(`unknown bench section(s) ${unknown.join(', ')}; sections: ${Object.keys(sections).join(', ')}`);
const rows: BenchRow[] = [];
for (const [name, run] of Object.entries(sections)) if (only.length === 0 || only.includes(name)) rows.push(...(await run()));
console.log(table(rows));
process.exit(0);
