/** The benchmark's deliveries, built the same way in the sender and in the receiver's check. */

/** A realistic application record (about 1.5 kB), version `n`. */
export function application(i: number, n: number): Record<string, unknown> {
  return {
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: new Date(Date.UTC(2026, 0, 2) + n).toISOString(),
    status: n % 5 === 0 ? 'Archived' : 'Active',
    customFields: [{ id: 'cf-1', title: 'Level', value: `L${n % 7}`, isPrivate: false }],
    candidate: {
      id: `cand-${i}`,
      name: `Candidate ${i}`,
      primaryEmailAddress: { value: `c${i}@example.com`, type: 'Work', isPrimary: true },
    },
    currentInterviewStage: {
      id: `stage-${n % 6}`,
      title: `Stage ${n % 6}`,
      type: 'Active',
      orderInInterviewPlan: n % 6,
      interviewStageGroupId: 'g',
      interviewPlanId: 'plan-1',
    },
    source: {
      id: 'src-1',
      title: 'LinkedIn',
      isArchived: false,
      sourceType: { id: 'st', title: 'Sourced', isArchived: false },
    },
    job: { id: `job-${i % 20}`, title: `Job ${i % 20}`, locationId: 'loc-1', departmentId: 'dep-1' },
    hiringTeam: [
      { userId: 'u-1', firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com', role: 'Recruiter' },
    ],
    appliedViaJobPostingId: null,
    submitterClientIp: '127.0.0.1',
    submitterUserAgent: 'bench',
  };
}

/** The signed body of delivery `n` of a run labelled `label`. */
export function deliveryBody(label: string, n: number, records: number): string {
  return JSON.stringify({
    webhookActionId: `bench-${label}-${n}`,
    action: 'applicationUpdate',
    data: { application: application(n % records, n) },
  });
}
