/**
 * `npm run bench`: every benchmark in one run, printed as one table (figures side by side).
 * Machine details are printed first so a table can be compared with another machine's.
 */
import { cpus, totalmem } from 'node:os';
import { benchAnalysis } from './analysis.js';
import { benchBrowser } from './browser.js';
import { benchEngine } from './engine.js';
import { benchNeurons } from './neurons.js';
import { benchTransport } from './transport.js';
import { table, type BenchRow } from './report.js';

const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(`machine: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${new Date().toISOString()}`);
const rows: BenchRow[] = [];
rows.push(...(await benchEngine()));
rows.push(...(await benchTransport()));
rows.push(...(await benchAnalysis()));
rows.push(...(await benchNeurons()));
rows.push(...(await benchBrowser()));
console.log(table(rows));
process.exit(0);
