/**
 * The canary test: a recognisable API key goes through every command that touches a key, a real sync into
 * every sink, a push, the quarantine and the REST API, meeting in each an upstream that echoes it back;
 * afterwards no spelling of it may be found in any output, response, log line, file of the home directory
 * or sink. `canary-unredacted.test.ts` runs the same scenario with redaction switched off and requires every
 * section to leak, so each section here proves redaction, not merely that the key was never emitted.
 */
import { canaryScenario } from './canary-scenario.js';

canaryScenario('redacted');
