/**
 * The one redaction module. Every path that turns something about a request into text a person or a file
 * can see — the logger, error messages, CLI output, the REST API — passes through {@link redact} (or
 * {@link redactDeep} for structured log lines). Secrets are registered once, when they are read (vault
 * decryption, environment, stdin), so no caller needs to know which strings are secret.
 *
 * Redaction is exact: it masks registered secrets (in every spelling they travel in) and the value of an
 * `Authorization` header, and nothing else. Free text that merely looks like a credential ("Basic
 * Knowledge Training") is data and is left alone, so a record never comes out of an output path changed.
 * Records, quarantine payloads and previews are never redacted by field name: secrets are kept out of
 * them by not putting them there.
 */

const MASK = '[REDACTED]';
/** Shorter strings are not registered: masking them would mangle ordinary text. */
const MIN_SECRET_LENGTH = 6;

const secrets = new Set<string>();
let pattern: RegExp | null = null;

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Every spelling a secret may travel in: as given, inside Basic credentials, URL-encoded, JSON-escaped, base64. */
function spellingsOf(secret: string): string[] {
  const forms = new Set<string>([secret]);
  for (const bytes of [`${secret}:`, secret]) {
    const b64 = Buffer.from(bytes).toString('base64');
    forms.add(b64);
    forms.add(b64.replace(/=+$/, ''));
    forms.add(Buffer.from(bytes).toString('base64url'));
  }
  forms.add(encodeURIComponent(secret));
  forms.add(JSON.stringify(secret).slice(1, -1));
  // A base64 secret (a master key) is accepted with or without its `=` padding and in the URL alphabet.
  if (BASE64.test(secret)) {
    const bare = secret.replace(/=+$/, '');
    forms.add(bare);
    forms.add(bare.replace(/\+/g, '-').replace(/\//g, '_'));
    const padded = bare.padEnd(bare.length + ((4 - (bare.length % 4)) % 4), '=');
    forms.add(padded);
    forms.add(encodeURIComponent(padded));
  }
  return [...forms];
}

function rebuild(): void {
  const forms = new Set<string>();
  for (const secret of secrets) for (const form of spellingsOf(secret)) forms.add(form);
  const sorted = [...forms].filter((f) => f.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
  pattern = sorted.length > 0 ? new RegExp(sorted.map(escapeRegExp).join('|'), 'g') : null;
}

/**
 * Registers a secret (an API key, a master key, a password) so that it is masked everywhere, as given and
 * without surrounding white space (the form it is used in).
 */
export function registerSecret(secret: string | undefined | null): void {
  if (!secret) return;
  let changed = false;
  for (const value of [secret, secret.trim()]) {
    if (value.length < MIN_SECRET_LENGTH || secrets.has(value)) continue;
    secrets.add(value);
    changed = true;
  }
  if (changed) rebuild();
}

/** Forgets every registered secret; tests use it to start clean. */
export function clearSecrets(): void {
  secrets.clear();
  pattern = null;
}

/**
 * The value of an `Authorization` (or `Proxy-Authorization`) header, however it was written down: a raw
 * header line, a JSON or logfmt field, an inspected object. Only text after the header's name is masked.
 */
const AUTH_HEADER =
  /(\bauthorization["']?\s*[:=]\s*["']?)(?:(Basic|Bearer|Digest|Token)\s+)?([A-Za-z0-9+/=._~-]{8,})/gi;

/** Masks every registered secret and every Authorization header value in a string. */
export function redact(text: string): string {
  let out = text;
  if (pattern) out = out.replace(pattern, MASK);
  return out.replace(AUTH_HEADER, (_match, head: string, scheme: string | undefined) =>
    scheme ? `${head}${scheme} ${MASK}` : `${head}${MASK}`,
  );
}

const SECRET_FIELD = /^(api_?key|apikey|authorization|password|secret|secret_?token|token|master_?key)$/i;

/**
 * Deep copy of a structured log line or error detail with secrets masked: string values are passed
 * through {@link redact}, and fields whose name marks them secret (`apiKey`, `password`, `secretToken`, …)
 * are masked whole. Never used on records: a column called `token` in a push input is data.
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

/**
 * `JSON.stringify` with registered secrets and Authorization header values masked; every other value,
 * records included, comes out exactly as it went in.
 */
export function safeStringify(value: unknown, space?: number): string {
  return redact(JSON.stringify(value, null, space) ?? 'null');
}
