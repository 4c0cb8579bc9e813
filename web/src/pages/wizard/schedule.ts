import { Cron } from 'croner';

/** A schedule as the Schedule step offers it; `custom` keeps any cron expression as typed. */
export type Preset =
  | { kind: 'manual' }
  | { kind: 'hourly'; minute: number }
  | { kind: 'daily'; time: string }
  | { kind: 'weekly'; day: number; time: string }
  | { kind: 'custom'; cron: string };

export const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

const pad = (n: number) => String(n).padStart(2, '0');

/** The cron expression of a preset (`''` for manual). */
export function cronOf(preset: Preset): string {
  switch (preset.kind) {
    case 'manual':
      return '';
    case 'hourly':
      return `${preset.minute} * * * *`;
    case 'daily': {
      const [h = '0', m = '0'] = preset.time.split(':');
      return `${Number(m)} ${Number(h)} * * *`;
    }
    case 'weekly': {
      const [h = '0', m = '0'] = preset.time.split(':');
      return `${Number(m)} ${Number(h)} * * ${preset.day}`;
    }
    case 'custom':
      return preset.cron.trim();
  }
}

/** Reads a stored cron expression back as the preset that writes it, else as custom. */
export function presetOf(cron: string): Preset {
  const c = cron.trim();
  if (c === '') return { kind: 'manual' };
  let m = /^(\d{1,2}) \* \* \* \*$/.exec(c);
  if (m) return { kind: 'hourly', minute: Number(m[1]) };
  m = /^(\d{1,2}) (\d{1,2}) \* \* \*$/.exec(c);
  if (m) return { kind: 'daily', time: `${pad(Number(m[2]))}:${pad(Number(m[1]))}` };
  m = /^(\d{1,2}) (\d{1,2}) \* \* ([0-6])$/.exec(c);
  if (m) return { kind: 'weekly', day: Number(m[3]), time: `${pad(Number(m[2]))}:${pad(Number(m[1]))}` };
  return { kind: 'custom', cron: c };
}

/** The next `count` run times of `cron` in `timezone`, or why the expression is not valid. */
export function nextRuns(
  cron: string,
  timezone: string | undefined,
  count = 3,
): { runs: Date[]; error?: string } {
  if (cron === '') return { runs: [] };
  try {
    const job = new Cron(cron, { paused: true, ...(timezone ? { timezone } : {}) });
    const runs = job.nextRuns(count);
    job.stop();
    return { runs };
  } catch (e) {
    return { runs: [], error: e instanceof Error ? e.message : String(e) };
  }
}
