/** Survey forms, the survey requests sent to applicants and their submissions. */
import { candidateOfApplication, parentOf } from '../world/relations.js';
import { formDefinition } from './interviews.js';
import { organizationId } from './organization.js';
import { DAY, type Generator, iso, time } from './shared.js';

const SURVEY_TYPES = ['CandidateExperience', 'EEOC', 'Diversity'];

export const surveyFormDefinition: Generator = {
  kind: 'surveyFormDefinition',
  count: () => 3,
  generate: (world, index, id) => ({
    id,
    title: ['Candidate experience', 'EEOC (US)', 'Diversity — voluntary'][index] ?? 'Survey',
    isArchived: false,
    isDefaultForm: index === 0,
    organizationId: organizationId(world),
    surveyType: SURVEY_TYPES[index] ?? 'Questionnaire',
    formDefinition: formDefinition(world, 'survey', index),
  }),
};

export const surveyRequest: Generator = {
  kind: 'surveyRequest',
  count: ({ applications }) => Math.floor(applications * 0.2),
  generate(world, index, id) {
    const app = parentOf(index, world.seeded('application'), world.seeded('surveyRequest'));
    const form = index % world.seeded('surveyFormDefinition');
    return {
      id,
      candidateId: world.id('candidate', candidateOfApplication(world, app)),
      applicationId: world.id('application', app),
      surveyFormDefinitionId: world.id('surveyFormDefinition', form),
      surveyUrl: `https://app.ashbyhq.com/surveys/${id}`,
    };
  },
};

export const surveySubmission: Generator = {
  kind: 'surveySubmission',
  count: ({ applications }) => Math.floor(applications * 0.1),
  generate(world, index, id, rng) {
    const request = parentOf(index, world.seeded('surveyRequest'), world.seeded('surveySubmission'));
    const app = parentOf(request, world.seeded('application'), world.seeded('surveyRequest'));
    const form = request % world.seeded('surveyFormDefinition');
    return {
      id,
      submittedAt: iso(time(world, 'application', app, rng) + 5 * DAY),
      candidateId: world.id('candidate', candidateOfApplication(world, app)),
      applicationId: world.id('application', app),
      surveyType: SURVEY_TYPES[form] ?? 'Questionnaire',
      formDefinition: formDefinition(world, 'survey', form),
      submittedValues: {
        _systemfield_rating: rng.int(1, 5),
        comments: rng.chance(0.5) ? 'Great 👍' : null,
      },
    };
  },
};
