/** Webhook payloads: the records an event carries, transformed as their streams' records are. */
import type { PiiTransformer } from './transform.js';

/** The stream of each record a webhook payload's `data` carries (API-NOTES §7). */
export const WEBHOOK_RECORD_STREAMS: Readonly<Record<string, string>> = {
  application: 'applications',
  candidate: 'candidates',
  deletedCandidate: 'candidates',
  mergedCandidate: 'candidates',
  interviewSchedule: 'interview_schedules',
  job: 'jobs',
  jobPosting: 'job_postings',
  offer: 'offers',
  opening: 'openings',
  surveySubmission: 'survey_submissions',
};

/** The payload with each record of its `data` transformed; other members are kept as sent. */
export function transformWebhookPayload(
  payload: Record<string, unknown>,
  transformer: PiiTransformer,
): Record<string, unknown> {
  const data = payload.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return payload;
  const out: Record<string, unknown> = { ...(data as Record<string, unknown>) };
  for (const [key, stream] of Object.entries(WEBHOOK_RECORD_STREAMS)) {
    const record = out[key];
    if (record !== null && typeof record === 'object' && !Array.isArray(record))
      out[key] = transformer.record(stream, record as Record<string, unknown>);
  }
  return { ...payload, data: out };
}
