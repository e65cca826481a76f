// Secret encodings for the leak tests, built by hand (independently of action-io's secretForms),
// so a gap in the redaction code cannot hide itself in the test.

export const SMTP_USER = 'mailer-account7';
export const SMTP_PASS = 'p@ss w/rd:Zq9xK2';
export const TOKENS = [
  'T0PUBLICX',
  'B0tokenSEG',
  'slackSECRETtoken77',
  'teamsSIGvalue+/=99',
  'discordTOKEN55',
  'genericHOOK66',
];

/** Every encoding a secret fragment could take in a log, built by hand (not by secretForms). */
export function encodings(secret: string): string[] {
  const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
  const out = [
    secret,
    encodeURIComponent(secret),
    encodeURIComponent(secret).replace(/%20/g, '+'),
    b64(secret),
    b64(secret).replace(/=+$/, ''),
    Buffer.from(secret).toString('base64url'),
    JSON.stringify(secret).slice(1, -1),
    JSON.stringify(JSON.stringify(secret)).slice(1, -1),
  ];
  return [...new Set(out)];
}

/** The secret forms of an SMTP login: user, password, and the AUTH PLAIN / LOGIN strings. */
export function smtpLoginForms(user: string, pass: string): string[] {
  const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
  return [
    ...encodings(user),
    ...encodings(pass),
    ...encodings(`${user}:${pass}`),
    b64(`\0${user}\0${pass}`),
    b64(`${user}\0${user}\0${pass}`),
  ];
}

export function leaks(text: string, forms: string[]): string[] {
  return forms.filter((f) => text.includes(f));
}
