import { type Dispatch, type FormEvent, useState } from 'react';
import { cronOf, nextRuns, type Preset, presetOf, WEEKDAYS } from './schedule';
import type { WizardAction } from './state';

/** Step 5: when the flow runs, with its next run times shown in the server's time zone. */
export function ScheduleStep(props: {
  schedule: string;
  timezone: string | undefined;
  editing: boolean;
  dispatch: Dispatch<WizardAction>;
  onSave: (e: FormEvent) => void;
}) {
  const [preset, setPreset] = useState<Preset>(() => presetOf(props.schedule));
  const choose = (p: Preset) => {
    setPreset(p);
    props.dispatch({ type: 'set', patch: { schedule: cronOf(p) } });
  };
  const cron = cronOf(preset);
  const { runs, error } = nextRuns(cron, props.timezone);
  const time = preset.kind === 'daily' || preset.kind === 'weekly' ? preset.time : '03:00';
  const format = (d: Date) =>
    d.toLocaleString(undefined, {
      ...(props.timezone ? { timeZone: props.timezone } : {}),
      weekday: 'short',
      year: 'numeric',
      month: 'short',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
    });
  const options: Array<{ kind: Preset['kind']; label: string; preset: Preset }> = [
    { kind: 'manual', label: 'Manually', preset: { kind: 'manual' } },
    { kind: 'hourly', label: 'Every hour', preset: { kind: 'hourly', minute: 0 } },
    { kind: 'daily', label: 'Daily at…', preset: { kind: 'daily', time } },
    { kind: 'weekly', label: 'Weekly on…', preset: { kind: 'weekly', day: 1, time } },
    { kind: 'custom', label: 'Cron expression', preset: { kind: 'custom', cron: cron || '0 * * * *' } },
  ];
  return (
    <form onSubmit={props.onSave}>
      <h2>Schedule</h2>
      <fieldset>
        <legend>Run</legend>
        {options.map((o) => (
          <label key={o.kind} className="inline">
            <input
              type="radio"
              name="schedule-preset"
              checked={preset.kind === o.kind}
              onChange={() => choose(o.preset)}
            />{' '}
            {o.label}
          </label>
        ))}
        {preset.kind === 'hourly' ? (
          <>
            <label htmlFor="schedule-minute">At minute</label>
            <input
              id="schedule-minute"
              type="number"
              min={0}
              max={59}
              value={preset.minute}
              onChange={(e) =>
                choose({ kind: 'hourly', minute: Math.min(59, Math.max(0, Number(e.target.value))) })
              }
            />
          </>
        ) : null}
        {preset.kind === 'weekly' ? (
          <>
            <label htmlFor="schedule-day">Day</label>
            <select
              id="schedule-day"
              value={preset.day}
              onChange={(e) => choose({ ...preset, day: Number(e.target.value) })}
            >
              {WEEKDAYS.map((d, i) => (
                <option key={d} value={i}>
                  {d}
                </option>
              ))}
            </select>
          </>
        ) : null}
        {preset.kind === 'daily' || preset.kind === 'weekly' ? (
          <>
            <label htmlFor="schedule-time">Time</label>
            <input
              id="schedule-time"
              type="time"
              required
              value={preset.time}
              onChange={(e) => choose({ ...preset, time: e.target.value })}
            />
          </>
        ) : null}
        {preset.kind === 'custom' ? (
          <>
            <label htmlFor="schedule">Cron schedule (minute hour day month weekday)</label>
            <input
              id="schedule"
              placeholder="0 * * * *"
              value={preset.cron}
              aria-invalid={error ? true : undefined}
              onChange={(e) => choose({ kind: 'custom', cron: e.target.value })}
            />
          </>
        ) : null}
      </fieldset>
      <div className="next-runs" aria-live="polite">
        {cron === '' ? (
          <p className="muted">Runs only when you press “Run now” (or through the API).</p>
        ) : error ? (
          <p className="error">Not a valid schedule: {error}</p>
        ) : (
          <>
            <p>
              Cron <code data-testid="cron">{cron}</code> · next runs in{' '}
              <strong>{props.timezone ?? 'the server’s time zone'}</strong>:
            </p>
            <ul data-testid="next-runs">
              {runs.map((d) => (
                <li key={d.toISOString()}>{format(d)}</li>
              ))}
            </ul>
          </>
        )}
      </div>
      <button type="submit" className="primary" disabled={error !== undefined}>
        {props.editing ? 'Save changes' : 'Save and activate'}
      </button>
    </form>
  );
}
