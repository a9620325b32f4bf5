/** One benchmark row: what was measured, the number, and the target it is held against. */
export interface BenchRow {
  readonly name: string;
  readonly value: string;
  readonly target?: string;
  /** Whether the value meets the target; undefined when there is none. */
  readonly isMet?: boolean;
}

/** Renders rows as a Markdown table. */
export function renderTable(title: string, rows: readonly BenchRow[]): string {
  const lines = [`### ${title}`, "", "| benchmark | measured | target | met |", "| --- | --- | --- | --- |"];
  for (const row of rows)
    lines.push(
      `| ${row.name} | ${row.value} | ${row.target ?? ""} | ${row.isMet === undefined ? "" : row.isMet ? "yes" : "NO"} |`,
    );
  return `${lines.join("\n")}\n`;
}

/** The median of a list of numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** A percentile (0..100) by nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}
