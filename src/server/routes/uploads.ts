import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import busboy from 'busboy';
import { Hono } from 'hono';
import type { ApiResponse } from '../api-schema.js';
import type { AppEnv } from '../auth.js';
import type { ServerDeps } from '../context.js';
import { BadRequestError, HttpError, ValidationError } from '../errors.js';

/** The largest upload when the server is started without `--max-upload-mb`. */
export const DEFAULT_MAX_UPLOAD_BYTES = 100 * 1024 * 1024;
/** Bytes a multipart request may carry beyond its file (boundaries, part headers). */
export const MULTIPART_OVERHEAD = 64 * 1024;
/** Folder of the first data directory that receives uploads. */
export const UPLOADS_DIR = 'uploads';

/** 413: the request body is larger than its route accepts. */
export class PayloadTooLargeError extends HttpError {
  constructor(limit: number, what = 'The request body') {
    super(413, 'payload_too_large', `${what} is larger than the ${limit}-byte limit of this route.`);
  }
}

const EXTENSIONS = new Set(['.csv', '.jsonl', '.ndjson', '.json']);

/** A file name safe to keep beside a random prefix: its base name, `[A-Za-z0-9._-]` only, at most 100 characters. */
function safeName(name: string): string {
  const base = path.basename(name.replace(/\\/g, '/'));
  const cleaned = base.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '');
  return cleaned.slice(-100) || 'upload';
}

/**
 * `POST /api/v1/uploads`: a console user brings a CSV, JSON lines or JSON file to the server without
 * knowing its paths. Multipart form data with one part named `file`, streamed to disk (busboy) under the
 * first data directory's `uploads/` (mode 0600), never held in memory; larger than the limit → 413 and
 * nothing kept. Answers the path a destination flow names as its `input.path`.
 *
 * Hono's `parseBody` would buffer the whole upload in memory (and its `bodyLimit` a chunked one too):
 * at the upload limit, a few concurrent uploads could exhaust the server's memory, which is why the file
 * part is streamed through busboy instead.
 */
export function uploadRoutes(deps: ServerDeps, maxBytes: number): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post('/', async (c) => {
    const length = Number(c.req.header('content-length'));
    if (Number.isFinite(length) && length > maxBytes + MULTIPART_OVERHEAD) {
      c.header('Connection', 'close');
      throw new PayloadTooLargeError(maxBytes, 'The file');
    }
    const type = c.req.header('content-type') ?? '';
    if (!/^multipart\/form-data/i.test(type))
      throw new BadRequestError(
        'Send the file as multipart/form-data, in a part named "file".',
        'unsupported_media_type',
      );
    const body = c.req.raw.body;
    if (!body) throw new BadRequestError('The request has no body.');
    const base = deps.paths.dataDirs[0];
    if (base === undefined) throw new ValidationError('the server has no data directory to upload into');
    const dir = path.join(base, UPLOADS_DIR);
    mkdirSync(dir, { recursive: true, mode: 0o700 });

    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: { 'content-type': type },
        limits: { files: 1, fileSize: maxBytes, fields: 10, fieldSize: 1024, parts: 12, headerPairs: 20 },
      });
    } catch {
      throw new BadRequestError('The multipart body cannot be read (no boundary).');
    }
    const written: string[] = [];
    const saved = new Promise<{ file: string; name: string; bytes: number }>((resolve, reject) => {
      let found = false;
      let writing: Promise<void> | undefined;
      parser.on('file', (field, stream, info) => {
        if (field !== 'file' || found) {
          stream.resume();
          return;
        }
        found = true;
        const name = safeName(info.filename ?? '');
        if (!EXTENSIONS.has(path.extname(name).toLowerCase())) {
          stream.resume();
          reject(new ValidationError(`upload a .csv, .jsonl or .json file (got "${name}")`));
          return;
        }
        const file = path.join(dir, `${randomUUID()}-${name}`);
        written.push(file);
        let bytes = 0;
        stream.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
        });
        stream.on('limit', () => reject(new PayloadTooLargeError(maxBytes, 'The file')));
        writing = pipeline(stream, createWriteStream(file, { flags: 'wx', mode: 0o600 })).then(() => {
          if (!(stream as { truncated?: boolean }).truncated)
            resolve({ file, name: info.filename ?? name, bytes });
        }, reject);
      });
      parser.on('error', (error: Error) =>
        reject(new BadRequestError(`The multipart body cannot be read: ${error.message}`)),
      );
      parser.on('close', () => {
        if (!found) reject(new ValidationError('the form has no part named "file"'));
        else void writing?.catch(reject);
      });
    });
    const source = Readable.fromWeb(body as unknown as WebReadableStream<Uint8Array>);
    source.on('error', () => parser.destroy());
    source.pipe(parser);
    try {
      const { file, name, bytes } = await saved;
      return c.json(
        { upload: { path: path.relative(base, file), name, bytes } } satisfies ApiResponse<'upload'>,
        201,
      );
    } catch (error) {
      source.unpipe(parser);
      source.destroy();
      for (const f of written) rmSync(f, { force: true });
      if (error instanceof PayloadTooLargeError) c.header('Connection', 'close');
      throw error;
    }
  });
  return app;
}
