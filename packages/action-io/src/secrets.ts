// Secrets must not leak in any encoding. The runner masks only exact strings it is told about, so
// every derived form that code might print is registered too: the secret's parts (a webhook URL's
// path tokens and query values beyond its public prefix, an SMTP URL's user and password), and for
// each of them the URL-encoded, base64 (also as it sits inside a longer base64 text), JSON-escaped
// forms, plus the SMTP AUTH PLAIN / LOGIN strings a mail server can echo back.

/** Path segments and query parameters that are the fixed, public part of webhook URLs
 *  (Slack /services/, Discord /api/webhooks/, Teams Workflows /workflows/…/triggers/manual/paths/invoke
 *  ?api-version=&sp=&sv=); everything else in a URL's path and query is treated as a secret. */
const PUBLIC_SEGMENTS = new Set([
  'services',
  'api',
  'webhooks',
  'webhook',
  'hooks',
  'hook',
  'workflows',
  'triggers',
  'manual',
  'paths',
  'invoke',
  'run',
  'slack',
  'teams',
  'discord',
  'notify',
  'v1',
  'v2',
  'v3',
]);
const PUBLIC_QUERY_KEYS = new Set(['api-version', 'sp', 'sv']);

/** Shorter fragments are not masked on their own: they would shred ordinary log text. */
const MIN_PART = 6;

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The secret and the secret parts of it (URL user, password, path tokens, query values). */
export function secretParts(secret: string): string[] {
  const parts = new Set<string>([secret]);
  const add = (s: string | undefined): void => {
    if (s && s.length >= MIN_PART) parts.add(s);
  };
  let url: URL | undefined;
  try {
    url = new URL(secret);
  } catch {
    url = undefined;
  }
  if (url && url.host) {
    const user = url.username;
    const pass = url.password;
    for (const u of new Set([user, safeDecode(user)])) add(u);
    for (const p of new Set([pass, safeDecode(pass)])) add(p);
    if (user && pass) {
      add(`${user}:${pass}`);
      add(`${safeDecode(user)}:${safeDecode(pass)}`);
      // SMTP AUTH PLAIN (RFC 4616): authzid \0 authcid \0 passwd; nodemailer sends an empty authzid.
      add(`\u0000${safeDecode(user)}\u0000${safeDecode(pass)}`);
      add(`${safeDecode(user)}\u0000${safeDecode(user)}\u0000${safeDecode(pass)}`);
    }
    const segments = url.pathname.split('/').filter(Boolean);
    const firstSecret = segments.findIndex((s) => !PUBLIC_SEGMENTS.has(s.toLowerCase()));
    if (firstSecret >= 0) {
      add(`/${segments.slice(firstSecret).join('/')}`);
      add(segments.slice(firstSecret).join('/'));
      for (const s of segments.slice(firstSecret)) {
        if (PUBLIC_SEGMENTS.has(s.toLowerCase())) continue;
        add(s);
        add(safeDecode(s));
      }
    }
    if (url.pathname.length > 1) add(url.pathname);
    if (url.search.length > 1) add(url.search);
    for (const [key, value] of url.searchParams) {
      if (PUBLIC_QUERY_KEYS.has(key.toLowerCase())) continue;
      add(value);
      const raw = new RegExp(`[?&]${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}=([^&#]*)`).exec(url.search);
      add(raw?.[1]);
    }
    add(url.href);
    add(url.host + url.pathname + url.search);
  }
  return [...parts];
}

/** base64 of `text` wherever it starts inside a longer base64 text: for each of the three byte
 *  alignments, the characters that depend only on the secret's own bytes. */
function base64Cores(text: string): string[] {
  const bytes = Buffer.from(text, 'utf8');
  const out: string[] = [];
  for (let pad = 0; pad < 3; pad++) {
    const encoded = Buffer.concat([Buffer.alloc(pad), bytes])
      .toString('base64')
      .replace(/=+$/, '');
    // Leading group mixes padding bytes in (unless pad = 0); the trailing partial group mixes in
    // whatever follows the secret.
    const start = pad === 0 ? 0 : 4;
    const usable = Math.floor((pad + bytes.length) / 3) * 4;
    const core = encoded.slice(start, usable);
    if (core.length >= 8) out.push(core);
  }
  return out;
}

function jsonInner(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

/** Every form of a secret worth masking (exact strings, longest first). */
export function secretForms(secret: string): string[] {
  const forms = new Set<string>();
  const add = (s: string | undefined): void => {
    if (s && s.length >= MIN_PART) forms.add(s);
  };
  for (const part of secretParts(secret)) {
    const base64 = Buffer.from(part, 'utf8').toString('base64');
    const variants = [
      part,
      encodeURIComponent(part),
      encodeURI(part),
      base64,
      base64.replace(/=+$/, ''),
      Buffer.from(part, 'utf8').toString('base64url'),
      encodeURIComponent(base64),
      jsonInner(part),
      jsonInner(jsonInner(part)),
      ...base64Cores(part),
    ];
    // A part with a control character (AUTH PLAIN) is only ever sent base64-encoded; masking its
    // raw form would mask nothing useful, and the runner cannot take it in ::add-mask::.
    // eslint-disable-next-line no-control-regex
    const printable = !/[\u0000-\u001f]/.test(part);
    for (const v of variants) if (printable || !v.includes('\u0000')) add(v);
  }
  return [...forms].sort((a, b) => b.length - a.length);
}

/** Replaces every known form of the given secrets with "***" (for text we render ourselves). */
export function redact(text: string, secrets: Iterable<string>): string {
  return redactor(secrets)(text);
}

/** A redact function with the forms computed once (for code that redacts many strings). */
export function redactor(secrets: Iterable<string>): (text: string) => string {
  const forms = [...new Set([...secrets].flatMap(secretForms))].sort((a, b) => b.length - a.length);
  if (forms.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const form of forms) if (out.includes(form)) out = out.split(form).join('***');
    return out;
  };
}
