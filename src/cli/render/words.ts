/** `1 request`, `2 requests`: a count with its noun, singular when it is one. */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}
