/** Small text helpers the commands share: sizes, tables, times, one-line JSON. */

export const print = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

/** A size for people: 512 B, 12.3 KB, 4.5 MB (powers of 1024). */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** Rows of cells as aligned columns (the last column unpadded). */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/** An ISO time as `2026-11-30 09:00:00Z`: to the second, in UTC, and said so. */
export function formatTime(iso: string): string {
  return `${iso.slice(0, 19).replace('T', ' ')}Z`;
}

/** Text cut to `max` characters, saying how much was left out. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** A value as JSON on one line, cut to `max` characters: outputs and answers can be long. */
export function compactJson(value: unknown, max = 240): string {
  return truncate(JSON.stringify(value) ?? 'null', max);
}

/** `step.module`, `step`, or a dash for a run-level thing. */
export function positionOf(step: string | null, module: string | null): string {
  if (!step) return '-';
  return module ? `${step}.${module}` : step;
}
