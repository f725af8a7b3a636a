export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url);
  return response.json();
}

/** Every string in a workflow history, with each payload's bytes decoded as text (payloads are JSON). */
export function readableText(value: unknown): string {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(readableText).join('\n');
  if (value && typeof value === 'object') return Object.values(value).map(readableText).join('\n');
  return String(value);
}
