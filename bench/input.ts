/**
 * Streaming input: `ashpipe push --dry-run --json` over generated CSV files of two sizes, in a child
 * process of the built CLI, measuring its peak resident memory (getrusage's maxrss, read by a preload
 * when the child exits). Memory must stay flat in the input's size: the target is a peak of at most
 * 300 MB for a 1 GiB CSV. The dry run sends nothing (manual mode needs no look-up), so the figure is the
 * input path itself: reading, parsing, mapping, validation, ledger check and the streamed JSON document.
 *
 * Usage: npm run bench:input [-- --mb 1024 --small-mb 64]
 * Writes the "## Streaming input" section of BENCHMARKS.md. The CSV files live in a temporary directory
 * and are removed afterwards.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: '1024' },
    'small-mb': { type: 'string', default: '64' },
  },
});
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TARGET_PEAK_MB = 300;

/** Writes a CSV of about `megabytes` MiB: candidate-like rows of ~200 bytes; returns its row count. */
async function generate(file: string, megabytes: number): Promise<number> {
  const limit = megabytes * 1024 * 1024;
  const out = fs.createWriteStream(file);
  let size = 0;
  let rows = 0;
  const write = (text: string) =>
    out.write(text) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r()));
  const header = 'name,email,phone,company,title,location.city,linkedin,notes\n';
  await write(header);
  size += header.length;
  let batch = '';
  while (size < limit) {
    const n = rows;
    const line = `"Candidate ${n}, Jr.",candidate.${n}@example.com,+1 555 ${String(n % 10_000).padStart(4, '0')},Company ${n % 977},Senior Engineer ${n % 13},City ${n % 311},https://www.linkedin.com/in/candidate-${n},"Referred by ""Someone ${n % 101}""; met at conf ${n % 29}"\n`;
    batch += line;
    size += Buffer.byteLength(line);
    rows += 1;
    if (batch.length > 1 << 20) {
      await write(batch);
      batch = '';
    }
  }
  await write(batch);
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
  return rows;
}

interface Measured {
  bytes: number;
  rows: number;
  bodies: number;
  total: number | undefined;
  peakMb: number;
  seconds: number;
  exitCode: number | null;
}

/** Runs the dry run on `file`; counts the bodies in the streamed stdout without keeping it. */
async function measure(file: string, rows: number, dir: string): Promise<Measured> {
  const rssFile = path.join(dir, `rss-${path.basename(file)}.txt`);
  const preload = path.join(dir, 'peak-rss.mjs');
  fs.writeFileSync(
    preload,
    `import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS)));\n`,
  );
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [
      '--import',
      preload,
      path.join(root, 'bin', 'ashpipe.js'),
      'push',
      '--manual',
      '--endpoint',
      'candidate.create',
      '--input',
      file,
      '--dry-run',
      '--json',
      '--base-url',
      'http://127.0.0.1:9',
    ],
    {
      env: { ...process.env, ASHBY_API_KEY: 'bench-input-key', ASHPIPE_HOME: path.join(dir, 'home') },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let bodies = 0;
  let tail = '';
  const marker = '"endpoint":"candidate.create"';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    const text = tail + chunk;
    let at = text.indexOf(marker);
    let last = -1;
    while (at >= 0) {
      bodies += 1;
      last = at;
      at = text.indexOf(marker, at + marker.length);
    }
    // Keep enough to find a marker cut by the chunk boundary and to read the summary at the end.
    tail = text.slice(Math.max(last + marker.length, text.length - 4096));
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const seconds = (performance.now() - started) / 1000;
  if (exitCode !== 0) process.stderr.write(stderr);
  const total = /"total": (\d+)/.exec(tail)?.[1];
  return {
    bytes: fs.statSync(file).size,
    rows,
    bodies,
    total: total === undefined ? undefined : Number(total),
    peakMb: Number(fs.readFileSync(rssFile, 'utf8')) / 1024,
    seconds,
    exitCode,
  };
}

function writeSection(section: string): void {
  const file = path.join(root, 'BENCHMARKS.md');
  const existing = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const title = '## Streaming input';
  const start = existing.indexOf(`\n${title}\n`);
  let next: string;
  if (start === -1) next = `${existing.trimEnd()}\n\n${section}`;
  else {
    const rest = existing.slice(start + 1 + title.length);
    const end = rest.search(/^## /m);
    next = `${existing.slice(0, start + 1)}${section}${end === -1 ? '' : `\n${rest.slice(end)}`}`;
  }
  fs.writeFileSync(file, next.endsWith('\n') ? next : `${next}\n`);
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-bench-input-'));
  try {
    const results: Measured[] = [];
    for (const mb of [Number(values['small-mb']), Number(values.mb)]) {
      const file = path.join(dir, `input-${mb}.csv`);
      const rows = await generate(file, mb);
      results.push(await measure(file, rows, dir));
      fs.rmSync(file, { force: true });
    }
    const [small, large] = results as [Measured, Measured];
    const ok = (m: Measured) => m.exitCode === 0 && m.bodies === m.rows && m.total === m.rows;
    const met = ok(small) && ok(large) && large.peakMb <= TARGET_PEAK_MB;
    const row = (m: Measured) =>
      `| ${(m.bytes / 1024 / 1024).toFixed(0)} MiB | ${m.rows} | ${m.bodies} | ${m.peakMb.toFixed(0)} MB | ${m.seconds.toFixed(0)} | ${(m.rows / m.seconds).toFixed(0)} | ${(m.bytes / 1024 / 1024 / m.seconds).toFixed(1)} |`;
    const cpus = os.cpus();
    const machine = `${cpus[0]?.model.trim() ?? 'unknown CPU'} (${cpus.length} logical CPUs), ${os.platform()} ${os.release()}, Node ${process.version}`;
    const section = [
      '## Streaming input',
      '',
      "`ashpipe push --manual --endpoint candidate.create --input FILE.csv --dry-run --json` on generated CSV files of candidate-like rows (8 columns, quoted fields with commas and doubled quotes), run as a child process of the built CLI; peak memory is the child's maximum resident set size. Every row is read, mapped, validated and written to stdout as one streamed JSON document (the benchmark counts the bodies without keeping them).",
      '',
      '| input | rows | bodies in the JSON | peak RSS | seconds | rows/s | MiB/s |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      row(small),
      row(large),
      '',
      `Peak memory of the large input over the small one: ${(large.peakMb / small.peakMb).toFixed(2)}× for ${(large.bytes / small.bytes).toFixed(0)}× the input. Target: at most ${TARGET_PEAK_MB} MB for the large input, every row in the output — ${met ? 'met' : 'NOT met'}.`,
      '',
      `Machine: ${machine}. Date: ${new Date().toISOString().slice(0, 10)}. Command: \`npm run bench:input\`.`,
      '',
    ].join('\n');
    writeSection(section);
    process.stdout.write(`${section}\n`);
    if (!met) process.exitCode = 1;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
