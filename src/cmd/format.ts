/**
 * Output helpers shared by the CLI subcommands: aligned tables, human sizes, relative times.
 */

/** Formats rows under headers as columns separated by three spaces, like docker's tables. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : (c ?? '').padEnd(widths[i]))).join('   ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** Bytes in Docker's units (decimal: kB, MB, GB). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${v}B` : `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)}${units[i]}`;
}

/** "5 seconds ago", "3 minutes ago", "2 days ago" for an ISO time. */
export function timeAgo(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (Number.isNaN(s)) return 'N/A';
  const units: Array<[number, string]> = [[365 * 86400, 'year'], [30 * 86400, 'month'], [7 * 86400, 'week'], [86400, 'day'], [3600, 'hour'], [60, 'minute']];
  if (s < 1) return 'Less than a second ago';
  for (const [n, u] of units) {
    if (s >= n) {
      const k = Math.floor(s / n);
      return `${k === 1 ? (u === 'hour' ? 'About an' : 'A') : k} ${u}${k === 1 ? '' : 's'} ago`;
    }
  }
  return `${s} second${s === 1 ? '' : 's'} ago`;
}
