/** How times and durations read in the console. Pure (the clock is passed in). */

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** `2025-03-04 12:34:56`, local time: dense and sortable by eye. */
export function dateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `12:34:56.789`, local time: an event on a build's timeline. */
export function clockTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** `850 ms`, `42 s`, `3 min 5 s`, `2 h 10 min`. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  const s = Math.floor(ms / 1_000);
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return s % 60 ? `${min} min ${s % 60} s` : `${min} min`;
  const h = Math.floor(min / 60);
  return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
}

/** `just now`, `42 s ago`, `in 5 s`. */
export function relative(iso: string, now: number): string {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const delta = now - at;
  if (Math.abs(delta) < 1_000) return 'just now';
  return delta > 0 ? `${duration(delta)} ago` : `in ${duration(-delta)}`;
}

/** How long from `from` to `to` (now when absent). */
export const between = (from: string, to: string | undefined, now: number): string => duration((to ? Date.parse(to) : now) - Date.parse(from));
