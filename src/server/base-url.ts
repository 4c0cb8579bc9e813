import { isIPv4, isIPv6 } from 'node:net';
import { ValidationError } from './errors.js';

/** Whether a host name or address is this machine: `localhost`, 127.0.0.0/8 or ::1. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIPv4(h)) return h.startsWith('127.');
  if (isIPv6(h)) return h === '::1' || /^::ffff:127\./.test(h) || /^0*:0*:0*:0*:0*:0*:0*:0*1$/.test(h);
  return false;
}

/** Whether `url` is plain http to this machine (the sandbox). */
export function isHttpLoopback(url: string | undefined): boolean {
  if (url === undefined) return false;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname);
  } catch {
    return false;
  }
}

/**
 * Checks the base URL a console user gives a credential: the server will send the API key there and read
 * what comes back, so it must be https, or plain http to this machine when the server allows it (started
 * with `--allow-http-base-url`, or against a sandbox on this machine). No user or password in it.
 * @throws ValidationError (422) naming `baseUrl`.
 */
export function checkBaseUrl(raw: string, allowHttpLoopback: boolean): string {
  const refuse = (message: string): never => {
    throw new ValidationError(`baseUrl ${message}`, [{ path: 'baseUrl', message }]);
  };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse('is not a URL');
  }
  if (url.username !== '' || url.password !== '') refuse('must not hold a user name or password');
  if (url.protocol === 'https:') return raw;
  if (url.protocol !== 'http:') refuse('must be an https URL');
  if (!allowHttpLoopback)
    refuse(
      'must be an https URL (plain http is accepted only to this machine, when the server is started with --allow-http-base-url)',
    );
  if (!isLoopbackHost(url.hostname))
    refuse('may use plain http only to this machine (localhost, 127.0.0.0/8, ::1); use https');
  return raw;
}
