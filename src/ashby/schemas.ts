/**
 * zod schemas of Ashby's records (official spec, Nov 2024, plus fields seen since). Every object schema
 * passes unknown fields through: Ashby adds fields over time and nothing may be lost on the way to a
 * sink. Fields the spec marks required are required; everything else is optional and may be null, as
 * Ashby often sends `null` for absent values.
 */
import { z } from 'zod';

const id = z.string();
const timestamp = z.string();
const opt = <T extends z.ZodTypeAny>(schema: T) => schema.nullish();

export const ContactInfoSchema = z
  .object({ value: z.string(), type: z.string(), isPrimary: z.boolean() })
  .passthrough();

export const SocialLinkSchema = z.object({ type: z.string(), url: z.string() }).passthrough();

export const FileHandleSchema = z.object({ id, name: z.string(), handle: z.string() }).passthrough();

/** A custom field's value on a record (`customFields[]`). */
export const CustomFieldValueSchema = z.object({ id, title: z.string(), value: z.unknown() }).passthrough();

export const UserSchema = z
  .object({
    id,
    firstName: z.string(),
    lastName: z.string(),
    email: opt(z.string()),
    globalRole: z.string(),
    isEnabled: z.boolean(),
    updatedAt: timestamp,
  })
  .passthrough();

export const CandidateTagSchema = z.object({ id, title: z.string(), isArchived: z.boolean() }).passthrough();

export const SourceTypeSchema = z.object({ id, title: z.string(), isArchived: z.boolean() }).passthrough();

export const SourceSchema = z
  .object({ id, title: z.string(), isArchived: z.boolean(), sourceType: opt(SourceTypeSchema) })
  .passthrough();

export const LocationComponentSchema = z.object({ type: z.string(), name: z.string() }).passthrough();

export const CandidateLocationSchema = z
  .object({ id, locationSummary: z.string(), locationComponents: z.array(LocationComponentSchema) })
  .passthrough();

export const CandidateSchema = z
  .object({
    id,
    createdAt: opt(timestamp),
    updatedAt: opt(timestamp),
    name: z.string(),
    primaryEmailAddress: opt(ContactInfoSchema),
    emailAddresses: z.array(ContactInfoSchema),
    primaryPhoneNumber: opt(ContactInfoSchema),
    phoneNumbers: z.array(ContactInfoSchema),
    socialLinks: z.array(SocialLinkSchema),
    tags: z.array(CandidateTagSchema),
    position: opt(z.string()),
    company: opt(z.string()),
    school: opt(z.string()),
    applicationIds: z.array(id),
    resumeFileHandle: opt(FileHandleSchema),
    fileHandles: z.array(FileHandleSchema),
    customFields: opt(z.array(CustomFieldValueSchema)),
    profileUrl: z.string(),
    source: opt(SourceSchema),
    creditedToUser: opt(UserSchema),
    timezone: opt(z.string()),
    primaryLocation: opt(CandidateLocationSchema),
  })
  .passthrough();

export const InterviewStageSchema = z
  .object({
    id,
    title: z.string(),
    type: z.string(),
    orderInInterviewPlan: z.number(),
    interviewStageGroupId: opt(z.string()),
    interviewPlanId: id,
  })
  .passthrough();

export const ArchiveReasonSchema = z
  .object({ id, text: z.string(), reasonType: z.string(), isArchived: z.boolean() })
  .passthrough();

export const HiringTeamMemberSchema = z
  .object({ email: z.string(), firstName: z.string(), lastName: z.string(), role: z.string(), userId: id })
  .passthrough();

export const ApplicationSchema = z
  .object({
    id,
    createdAt: timestamp,
    updatedAt: timestamp,
    status: z.string(),
    customFields: opt(z.array(CustomFieldValueSchema)),
    candidate: z
      .object({
        id,
        name: z.string(),
        primaryEmailAddress: opt(ContactInfoSchema),
        primaryPhoneNumber: opt(ContactInfoSchema),
      })
      .passthrough(),
    currentInterviewStage: opt(InterviewStageSchema),
    source: opt(SourceSchema),
    archiveReason: opt(ArchiveReasonSchema),
    archivedAt: opt(timestamp),
    job: z
      .object({ id, title: z.string(), locationId: opt(z.string()), departmentId: opt(z.string()) })
      .passthrough(),
    creditedToUser: opt(UserSchema),
    hiringTeam: z.array(HiringTeamMemberSchema),
    appliedViaJobPostingId: opt(z.string()),
  })
  .passthrough();

export const DepartmentSchema = z
  .object({ id, name: z.string(), isArchived: z.boolean(), parentId: opt(z.string()) })
  .passthrough();

export const LocationSchema = z
  .object({
    id,
    name: z.string(),
    isArchived: z.boolean(),
    address: opt(z.object({ postalAddress: opt(z.object({}).passthrough()) }).passthrough()),
    isRemote: opt(z.boolean()),
    parentLocationId: opt(z.string()),
    type: opt(z.string()),
  })
  .passthrough();

export const JobSchema = z
  .object({
    id,
    title: z.string(),
    confidential: z.boolean(),
    status: z.string(),
    employmentType: z.string(),
    locationId: opt(z.string()),
    departmentId: opt(z.string()),
    defaultInterviewPlanId: opt(z.string()),
    interviewPlanIds: opt(z.array(id)),
    customFields: opt(z.array(CustomFieldValueSchema)),
    jobPostingIds: opt(z.array(id)),
    customRequisitionId: opt(z.string()),
    hiringTeam: opt(z.array(HiringTeamMemberSchema)),
    author: opt(UserSchema),
    createdAt: opt(timestamp),
    updatedAt: timestamp,
    openedAt: opt(timestamp),
    closedAt: opt(timestamp),
    location: opt(LocationSchema),
    openings: opt(z.array(z.object({ id }).passthrough())),
  })
  .passthrough();

export const OpeningSchema = z
  .object({
    id,
    openedAt: opt(timestamp),
    closedAt: opt(timestamp),
    isArchived: z.boolean(),
    archivedAt: opt(timestamp),
    openingState: z.string(),
    latestVersion: opt(
      z
        .object({
          id,
          identifier: z.string(),
          description: z.string(),
          authorId: id,
          createdAt: timestamp,
          teamId: opt(z.string()),
          jobIds: z.array(id),
          targetHireDate: opt(z.string()),
          targetStartDate: opt(z.string()),
          isBackfill: z.boolean(),
          employmentType: z.string(),
          locationIds: z.array(id),
          hiringTeam: z.array(HiringTeamMemberSchema),
        })
        .passthrough(),
    ),
  })
  .passthrough();

export const OfferVersionSchema = z
  .object({
    id,
    startDate: opt(z.string()),
    salary: opt(z.object({ currencyCode: opt(z.string()), value: opt(z.number()) }).passthrough()),
    createdAt: timestamp,
    customFields: opt(z.array(CustomFieldValueSchema)),
    fileHandles: opt(z.array(FileHandleSchema)),
    author: opt(UserSchema),
  })
  .passthrough();

export const OfferSchema = z
  .object({
    id,
    decidedAt: opt(timestamp),
    applicationId: id,
    acceptanceStatus: z.string(),
    offerStatus: opt(z.string()),
    latestVersion: opt(OfferVersionSchema),
    versions: opt(z.array(OfferVersionSchema)),
  })
  .passthrough();

export const InterviewSchema = z
  .object({
    id,
    title: z.string(),
    isArchived: z.boolean(),
    isDebrief: opt(z.boolean()),
    instructionsHtml: opt(z.string()),
    instructionsPlain: opt(z.string()),
    jobId: opt(z.string()),
    feedbackFormDefinitionId: opt(z.string()),
  })
  .passthrough();

export const InterviewEventSchema = z
  .object({
    id,
    interviewId: id,
    interviewScheduleId: id,
    interviewerUserIds: z.array(id),
    createdAt: timestamp,
    startTime: timestamp,
    endTime: timestamp,
    feedbackLink: opt(z.string()),
    location: opt(z.string()),
    meetingLink: opt(z.string()),
    hasSubmittedFeedback: opt(z.boolean()),
    interview: opt(InterviewSchema),
  })
  .passthrough();

export const InterviewScheduleSchema = z
  .object({
    id,
    status: z.string(),
    applicationId: id,
    interviewStageId: id,
    interviewEvents: opt(z.array(InterviewEventSchema)),
  })
  .passthrough();

/** A custom field's definition (`customField.list`). */
export const CustomFieldSchema = z
  .object({
    id,
    title: z.string(),
    objectType: z.string(),
    isArchived: z.boolean(),
    fieldType: z.string(),
    selectableValues: opt(
      z.array(
        z
          .object({ label: opt(z.string()), value: opt(z.string()), isArchived: opt(z.boolean()) })
          .passthrough(),
      ),
    ),
  })
  .passthrough();

export const InterviewPlanSchema = z.object({ id, title: z.string(), isArchived: z.boolean() }).passthrough();

export const FeedbackFormDefinitionSchema = z
  .object({
    id,
    title: z.string(),
    isArchived: z.boolean(),
    formDefinition: z.object({}).passthrough(),
    organizationId: opt(z.string()),
    isDefaultForm: opt(z.boolean()),
    interviewId: opt(z.string()),
  })
  .passthrough();

export const ApplicationFeedbackSchema = z
  .object({
    id,
    formDefinition: z.object({}).passthrough(),
    submittedValues: z.record(z.unknown()),
    submittedByUser: opt(UserSchema),
    interviewId: opt(z.string()),
    feedbackFormDefinitionId: opt(z.string()),
    applicationHistoryId: opt(z.string()),
    applicationId: id,
    submittedAt: opt(timestamp),
  })
  .passthrough();

export const JobPostingSchema = z
  .object({
    id,
    title: z.string(),
    jobId: id,
    departmentName: opt(z.string()),
    teamName: opt(z.string()),
    locationName: opt(z.string()),
    locationIds: opt(
      z.object({ primaryLocationId: opt(z.string()), secondaryLocationIds: opt(z.array(id)) }).passthrough(),
    ),
    employmentType: opt(z.string()),
    isListed: z.boolean(),
    publishedDate: opt(z.string()),
    applicationDeadline: opt(z.string()),
    externalLink: opt(z.string()),
    applyLink: opt(z.string()),
    compensationTierSummary: opt(z.string()),
    shouldDisplayCompensationOnJobBoard: opt(z.boolean()),
    updatedAt: opt(timestamp),
  })
  .passthrough();

export const ProjectSchema = z
  .object({
    id,
    title: z.string(),
    description: opt(z.string()),
    isArchived: opt(z.boolean()),
    confidential: opt(z.boolean()),
    authorUserId: opt(z.string()),
    createdAt: opt(timestamp),
    customFields: opt(z.array(CustomFieldValueSchema)),
  })
  .passthrough();

export const ApiKeyInfoSchema = z
  .object({ title: z.string(), createdAt: opt(timestamp), scopes: opt(z.array(z.string())) })
  .passthrough();

/** The record schema of each list endpoint that ashpipe parses (used by streams and tests). */
export const RECORD_SCHEMAS = {
  'application.list': ApplicationSchema,
  'application.info': ApplicationSchema,
  'applicationFeedback.list': ApplicationFeedbackSchema,
  'archiveReason.list': ArchiveReasonSchema,
  'candidate.list': CandidateSchema,
  'candidate.info': CandidateSchema,
  'candidateTag.list': CandidateTagSchema,
  'customField.list': CustomFieldSchema,
  'department.list': DepartmentSchema,
  'feedbackFormDefinition.list': FeedbackFormDefinitionSchema,
  'interview.list': InterviewSchema,
  'interviewPlan.list': InterviewPlanSchema,
  'interviewSchedule.list': InterviewScheduleSchema,
  'interviewStage.list': InterviewStageSchema,
  'job.list': JobSchema,
  'job.info': JobSchema,
  'jobPosting.list': JobPostingSchema,
  'location.list': LocationSchema,
  'offer.list': OfferSchema,
  'opening.list': OpeningSchema,
  'project.list': ProjectSchema,
  'source.list': SourceSchema,
  'user.list': UserSchema,
  'apiKey.info': ApiKeyInfoSchema,
} as const;

export type Candidate = z.infer<typeof CandidateSchema>;
export type Application = z.infer<typeof ApplicationSchema>;
export type Job = z.infer<typeof JobSchema>;
export type Opening = z.infer<typeof OpeningSchema>;
export type Offer = z.infer<typeof OfferSchema>;
export type InterviewSchedule = z.infer<typeof InterviewScheduleSchema>;
export type CustomField = z.infer<typeof CustomFieldSchema>;
export type CustomFieldValue = z.infer<typeof CustomFieldValueSchema>;
export type User = z.infer<typeof UserSchema>;
export type Department = z.infer<typeof DepartmentSchema>;
export type Location = z.infer<typeof LocationSchema>;
export type Source = z.infer<typeof SourceSchema>;
export type ArchiveReason = z.infer<typeof ArchiveReasonSchema>;
export type CandidateTag = z.infer<typeof CandidateTagSchema>;
export type InterviewStage = z.infer<typeof InterviewStageSchema>;
export type InterviewPlan = z.infer<typeof InterviewPlanSchema>;
export type JobPosting = z.infer<typeof JobPostingSchema>;
export type ApplicationFeedback = z.infer<typeof ApplicationFeedbackSchema>;
export type Project = z.infer<typeof ProjectSchema>;
