import { Hono } from 'hono';
import type { ChannelConfig, StoredChannelConfig } from '../../alerts/channel-schema.js';
import { AlertChannelStore, type StoredChannel } from '../alert-store.js';
import {
  type AlertChannel,
  type ApiResponse,
  alertChannelBody,
  alertChannelEditBody,
} from '../api-schema.js';
import type { AppEnv } from '../auth.js';
import { readBody, type ServerDeps } from '../context.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';

const FILE_PREFIX = 'file:';

/** `https://hooks.slack.com/…`: the scheme and host of a webhook URL, never its path (the token). */
export function urlPreview(url: string): string {
  try {
    return `${new URL(url).origin}/…`;
  } catch {
    return '…';
  }
}

/** A channel as the API shows it: the secrets left out, whether a password is stored said instead. */
export function publicChannel(
  config: ChannelConfig | StoredChannelConfig,
  where: { id: string; source: 'console' | 'file'; createdAt: string | null; updatedAt: string | null },
): AlertChannel {
  const common = {
    ...where,
    name: config.name,
    type: config.type,
    ...(config.events ? { events: config.events } : {}),
    ...('managedBy' in config && config.managedBy ? { managedBy: config.managedBy } : {}),
  };
  if (config.type === 'webhook')
    return { ...common, format: config.format, urlPreview: urlPreview(config.url) };
  const { host, port, secure, user, passwordEnv } = config.smtp;
  const password = 'password' in config.smtp ? config.smtp.password : undefined;
  return {
    ...common,
    to: config.to,
    from: config.from,
    smtp: {
      host,
      port,
      secure,
      ...(user === undefined ? {} : { user }),
      ...(passwordEnv === undefined ? {} : { passwordEnv }),
      passwordSet: password !== undefined,
    },
  };
}

const fromStore = (c: StoredChannel) =>
  publicChannel(c.config, { id: c.id, source: 'console', createdAt: c.createdAt, updatedAt: c.updatedAt });

/**
 * `/api/v1/alert-channels`: where alerts go. Stored channels are added, edited, deleted and tested here;
 * those of `serve --alert-channels FILE` are listed and tested, never changed. Secrets (a webhook URL, an
 * SMTP password) are write-only: no answer carries them.
 */
export function alertChannelRoutes(deps: ServerDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const store = deps.alertChannels ?? new AlertChannelStore(deps.control.db);
  const fileChannels = () => deps.alerting?.fileChannels() ?? [];
  const fileChannel = (id: string) =>
    id.startsWith(FILE_PREFIX)
      ? fileChannels().find((c) => c.name === id.slice(FILE_PREFIX.length))
      : undefined;
  const found = async (id: string) => {
    const channel = await store.get(id);
    if (!channel) {
      if (fileChannel(id))
        throw new ConflictError(
          `channel ${id} comes from the --alert-channels file of the server: change it there`,
          'read_only',
        );
      throw new NotFoundError('alert channel', id);
    }
    return channel;
  };
  const nameFree = async (name: string, id?: string) => {
    if (fileChannels().some((c) => c.name === name))
      throw new ConflictError(`a channel of the --alert-channels file is named "${name}"`, 'name_taken');
    const other = await store.byName(name);
    if (other && other.id !== id)
      throw new ConflictError(`a channel named "${name}" exists (${other.id})`, 'name_taken');
  };
  const reload = () => deps.alerting?.reloadChannels();

  app.get('/', async (c) => {
    const channels = [
      ...(await store.list()).map(fromStore),
      ...fileChannels().map((f) =>
        publicChannel(f, { id: `${FILE_PREFIX}${f.name}`, source: 'file', createdAt: null, updatedAt: null }),
      ),
    ];
    return c.json({ channels } satisfies ApiResponse<'alertChannels'>);
  });
  app.post('/', async (c) => {
    const body = await readBody(c, alertChannelBody);
    await nameFree(body.name);
    const channel = await store.create(body);
    await reload();
    return c.json({ channel: fromStore(channel) } satisfies ApiResponse<'alertChannel'>, 201);
  });
  app.get('/:id', async (c) => {
    const id = c.req.param('id');
    const file = fileChannel(id);
    if (file)
      return c.json({
        channel: publicChannel(file, { id, source: 'file', createdAt: null, updatedAt: null }),
      } satisfies ApiResponse<'alertChannel'>);
    return c.json({ channel: fromStore(await found(id)) } satisfies ApiResponse<'alertChannel'>);
  });
  app.put('/:id', async (c) => {
    const id = c.req.param('id');
    const body = await readBody(c, alertChannelEditBody);
    const current = await found(id);
    await nameFree(body.name, id);
    // Secrets left out are kept: the client never had them to send back.
    let next: StoredChannelConfig;
    if (body.type === 'webhook') {
      const url = body.url ?? (current.config.type === 'webhook' ? current.config.url : undefined);
      if (url === undefined)
        throw new ValidationError('url: Required (the channel was an email channel)', [
          { path: 'url', message: 'Required' },
        ]);
      next = { ...body, url };
    } else {
      const kept = current.config.type === 'email' ? current.config.smtp.password : undefined;
      const password = body.smtp.password ?? kept;
      next = { ...body, smtp: { ...body.smtp, ...(password === undefined ? {} : { password }) } };
    }
    const channel = await store.update(id, alertChannelBody.parse(next));
    if (!channel) throw new NotFoundError('alert channel', id);
    await reload();
    return c.json({ channel: fromStore(channel) } satisfies ApiResponse<'alertChannel'>);
  });
  app.delete('/:id', async (c) => {
    const id = c.req.param('id');
    await found(id);
    await store.delete(id);
    await reload();
    return c.body(null, 204);
  });
  app.post('/:id/test', async (c) => {
    const id = c.req.param('id');
    const config = fileChannel(id) ?? (await found(id)).config;
    const result = deps.alerting
      ? await deps.alerting.sendTest(config)
      : { ok: false as const, error: 'alerts are off on this server' };
    deps.logger.info('alert channel tested', { channel: config.name, delivered: result.ok });
    return c.json(
      (result.ok
        ? { delivered: true }
        : { delivered: false, error: result.error }) satisfies ApiResponse<'alertChannelTest'>,
    );
  });
  return app;
}
