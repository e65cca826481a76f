// One bounded HTTP GET shared by every provider: a timeout on the whole exchange, and errors
// turned into one-line reasons (never stack traces) that end up in the poll record.

export interface FetchedText {
  status: number;
  contentType: string;
  body: string;
}

/** Errors of a pooled keep-alive socket the server closed (e.g. after a restart): the request
 *  never reached a live server, so one immediate retry on a fresh connection is fair. */
const STALE_SOCKET = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

export async function getText(
  url: string,
  timeoutMs: number,
  headers: Record<string, string> = {},
): Promise<FetchedText> {
  const signal = AbortSignal.timeout(timeoutMs);
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(url, { signal, headers, redirect: 'follow' });
      const body = await response.text();
      return { status: response.status, contentType: response.headers.get('content-type') ?? '', body };
    } catch (error) {
      const code = (error as { cause?: { code?: string } }).cause?.code;
      if (attempt >= 2 || !code || !STALE_SOCKET.has(code) || signal.aborted) throw error;
    }
  }
}

/** "timed out after 5s", "connection refused", ... */
export function describeFetchError(error: unknown, timeoutMs: number): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `timed out after ${timeoutMs}ms`;
  const code = e?.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code) return `${code}${e.cause?.message ? `: ${e.cause.message}` : ''}`;
  return e?.cause?.message ?? e?.message ?? String(error);
}
