/** Benchmark rows and the printed table. */
export interface BenchRow {
  group: string;
  what: string;
  value: number;
  unit: string;
  note?: string;
}

export function row(group: string, what: string, value: number, unit: string, note?: string): BenchRow {
  return { group, what, value, unit, note };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function format(value: number): string {
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** A Markdown table, ready to paste into the README. */
export function table(rows: BenchRow[]): string {
  const lines = ['| area | measurement | value | target / note |', '| --- | --- | --- | --- |'];
  for (const r of rows) lines.push(`| ${r.group} | ${r.what} | ${format(r.value)} ${r.unit} | ${r.note ?? ''} |`);
  return lines.join('\n');
}
