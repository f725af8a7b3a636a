/** Whether a listening address is this machine's alone (an endpoint there needs no token). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
