/**
 * The one redaction module. Every path that turns data into text a person or a file can see — the
 * logger, error messages, CLI and JSON output, the REST API — passes through {@link redact} or
 * {@link redactDeep}. Secrets are registered once, when they are read (vault decryption, environment,
 * stdin), so no caller needs to know which strings are secret.
 */

const MASK = '[REDACTED]';
/** Shorter strings are not registered: masking them would mangle ordinary text. */
const MIN_SECRET_LENGTH = 6;

const secrets = new Set<string>();
let pattern: RegExp | null = null;

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function rebuild(): void {
  const forms = new Set<string>();
  for (const secret of secrets) {
    forms.add(secret);
    // The key also travels inside Basic credentials and URL-encoded bodies; mask those spellings too.
    forms.add(Buffer.from(`${secret}:`).toString('base64'));
    forms.add(encodeURIComponent(secret));
    forms.add(JSON.stringify(secret).slice(1, -1));
  }
  const sorted = [...forms].filter((f) => f.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
  pattern = sorted.length > 0 ? new RegExp(sorted.map(escapeRegExp).join('|'), 'g') : null;
}

/** Registers a secret (an API key, a master key, a session token) so that it is masked everywhere. */
export function registerSecret(secret: string | undefined | null): void {
  if (!secret || secret.length < MIN_SECRET_LENGTH || secrets.has(secret)) return;
  secrets.add(secret);
  rebuild();
}

/** Forgets every registered secret; tests use it to start clean. */
export function clearSecrets(): void {
  secrets.clear();
  pattern = null;
}

/** Matches `Authorization: Basic …` / `Bearer …` values whatever key they hold. */
const AUTH_HEADER = /\b(Basic|Bearer)\s+[A-Za-z0-9+/=._~-]{8,}/g;

/** Masks every registered secret and every Authorization credential in a string. */
export function redact(text: string): string {
  let out = text;
  if (pattern) out = out.replace(pattern, MASK);
  return out.replace(AUTH_HEADER, `$1 ${MASK}`);
}

const SECRET_FIELD = /^(api_?key|apikey|authorization|password|secret|secret_?token|token|master_?key)$/i;

/**
 * Deep copy of a JSON-like value with secrets masked: string values are passed through {@link redact},
 * and fields whose name marks them secret (`apiKey`, `password`, `secretToken`, …) are masked whole.
 */
export function redactDeep<T>(value: T): T {
  return walk(value, undefined) as T;
}

function walk(value: unknown, key: string | undefined): unknown {
  if (typeof value === 'string') {
    if (key !== undefined && SECRET_FIELD.test(key) && value.length > 0) return MASK;
    return redact(value);
  }
  if (Array.isArray(value)) return value.map((v) => walk(v, undefined));
  if (value instanceof Error) return redact(value.message);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = walk(v, k);
    return out;
  }
  return value;
}

/** A redacting replacement for `JSON.stringify`. */
export function safeStringify(value: unknown, space?: number): string {
  return redact(JSON.stringify(redactDeep(value), null, space));
}
