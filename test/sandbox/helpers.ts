import type { Sandbox } from '../../src/sandbox/index.js';

export interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** One POST to the sandbox, as the Ashby client would send it. */
export async function call(
  sandbox: Sandbox,
  endpoint: string,
  body: Record<string, unknown> = {},
  key: string | null = 'sandbox-full',
): Promise<Answer> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json; version=1',
  };
  if (key !== null) headers.authorization = `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
  const res = await fetch(`${sandbox.url}/${endpoint}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: JSON.parse(text) as Record<string, unknown> };
}

/** Walks every page of a list over HTTP; returns the pages. */
export async function walk(
  sandbox: Sandbox,
  endpoint: string,
  body: Record<string, unknown> = {},
  key = 'sandbox-full',
): Promise<Array<Record<string, unknown>>> {
  const pages: Array<Record<string, unknown>> = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await call(sandbox, endpoint, cursor ? { ...body, cursor } : body, key);
    if (page.body.success !== true) throw new Error(JSON.stringify(page.body));
    pages.push(page.body);
    if (page.body.moreDataAvailable !== true) return pages;
    cursor = String(page.body.nextCursor);
  }
}

export function ids(pages: Array<Record<string, unknown>>): string[] {
  return pages.flatMap((p) => (p.results as Array<{ id: string }>).map((r) => r.id));
}

export function code(answer: Answer): unknown {
  return (answer.body.errorInfo as { code?: string } | undefined)?.code;
}

export function message(answer: Answer): string {
  return String((answer.body.errorInfo as { message?: string } | undefined)?.message);
}
