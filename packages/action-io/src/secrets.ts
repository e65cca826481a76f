// Secrets must not leak in any encoding. The runner masks only exact strings it is told about, so
// every derived form that code might print (URL-encoded, base64, the URL's password or path token)
// is registered too.

/** Every form of a secret worth masking. Short fragments (< 6 chars) are skipped: masking them
 *  would shred ordinary log text without protecting anything. */
export function secretForms(secret: string): string[] {
  const forms = new Set<string>();
  const add = (s: string | undefined): void => {
    if (s && s.length >= 6) forms.add(s);
  };
  add(secret);
  add(encodeURIComponent(secret));
  add(encodeURI(secret));
  add(Buffer.from(secret, 'utf8').toString('base64'));
  add(Buffer.from(secret, 'utf8').toString('base64url'));
  add(JSON.stringify(secret).slice(1, -1));
  try {
    const url = new URL(secret);
    add(url.password);
    add(decodeURIComponent(url.password));
    add(url.username && url.password ? `${url.username}:${url.password}` : undefined);
    add(url.pathname.length > 1 ? url.pathname : undefined);
    add(url.search.length > 1 ? url.search : undefined);
    add(url.href);
  } catch {
    // not a URL: the plain forms above are all there is
  }
  return [...forms];
}

/** Replaces every known form of the given secrets with "***" (for text we render ourselves). */
export function redact(text: string, secrets: Iterable<string>): string {
  let out = text;
  const forms = [...secrets].flatMap(secretForms).sort((a, b) => b.length - a.length);
  for (const form of forms) out = out.split(form).join('***');
  return out;
}
