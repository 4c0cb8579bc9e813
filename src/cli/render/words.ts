/** `1 request`, `2 requests`: a count with its noun, singular when it is one. */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

/**
 * Wraps text at word boundaries to lines of at most `width` characters; lines after the first start with
 * `indent`.
 * @example wrap('a long note', 6, '  ') // 'a long\n  note'
 */
export function wrap(text: string, width = 100, indent = '    '): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    const next = line === '' ? word : `${line} ${word}`;
    if (next.length > width && line.trim() !== '') {
      lines.push(line);
      line = `${indent}${word}`;
    } else line = next;
  }
  if (line !== '') lines.push(line);
  return lines.join('\n');
}
