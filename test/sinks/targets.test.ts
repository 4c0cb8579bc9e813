import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSink, SinkError } from '../../src/sinks/index.js';
import { ConfigError } from '../../src/util/errors.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('openSink targets', () => {
  it('picks the implementation from the target', () => {
    expect(openSink('sqlite:./x.db')).toMatchObject({ kind: 'sqlite', location: 'sqlite:./x.db' });
    expect(openSink('sqlite:///var/tmp/x.db')).toMatchObject({
      kind: 'sqlite',
      location: 'sqlite:/var/tmp/x.db',
    });
    expect(openSink('jsonl:./out')).toMatchObject({ kind: 'jsonl', location: 'jsonl:./out' });
    expect(openSink('postgresql://u@127.0.0.1/db').kind).toBe('postgres');
  });

  it('rejects unknown or incomplete targets with a usage error naming the problem', () => {
    expect(() => openSink('mysql://u:pw@host/db')).toThrow(ConfigError);
    expect(() => openSink('mysql://u:pw@host/db')).not.toThrow(/pw/);
    expect(() => openSink('./data.db')).toThrow(/sqlite:PATH/);
    expect(() => openSink('sqlite:')).toThrow(ConfigError);
    expect(() => openSink('jsonl:')).toThrow(ConfigError);
    expect(() => openSink('postgres://u@h/db?schema=x";drop')).toThrow(/invalid schema/);
  });

  it('never shows a PostgreSQL password in the location', () => {
    const sink = openSink('postgres://alice:s3cr%40t@127.0.0.1:5432/warehouse?schema=ashby');
    expect(sink.location).toBe('postgres://alice@127.0.0.1:5432/warehouse?schema=ashby');
  });

  it('fails to open an unreachable PostgreSQL with an error naming it, without the password', async () => {
    const port = await closedPort();
    const sink = openSink(`postgres://alice:hunter2pw@127.0.0.1:${port}/db`);
    const error = await sink.open().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SinkError);
    expect((error as SinkError).message).toContain(`alice@127.0.0.1:${port}/db`);
    expect((error as SinkError).message).not.toContain('hunter2pw');
    expect((error as SinkError).target).toBe(sink.location);
  });

  it('fails to open a SQLite file or JSONL directory that cannot be created, naming it', async () => {
    const file = path.join(dir, 'plain-file');
    fs.writeFileSync(file, 'not a directory');
    const sqlite = openSink(`sqlite:${file}/sub/ashpipe.db`);
    await expect(sqlite.open()).rejects.toThrow(SinkError);
    await expect(sqlite.open()).rejects.toThrow(`sqlite:${file}/sub/ashpipe.db`);
    const jsonl = openSink(`jsonl:${file}/out`);
    await expect(jsonl.open()).rejects.toThrow(`jsonl:${file}/out`);
  });

  it('refuses to be used before open', async () => {
    for (const target of [`sqlite:${path.join(dir, 'never.db')}`, `jsonl:${path.join(dir, 'never')}`]) {
      await expect(openSink(target).getState('candidates')).rejects.toThrow(/not open/);
    }
  });
});
