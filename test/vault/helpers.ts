import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh temp directory with an ashpipe home inside it (not yet created). */
export function makeTempHome(cleanup: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
  cleanup.push(dir);
  return path.join(dir, 'home');
}

export function removeAll(cleanup: string[]): void {
  for (const dir of cleanup.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** Every file under a directory, recursively. */
export function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}
