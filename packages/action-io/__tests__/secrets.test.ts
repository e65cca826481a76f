import { describe, expect, it } from '@jest/globals';
import { redact, secretForms } from '../src/secrets.js';

describe('secret masking', () => {
  const url = 'https://hooks.slack.invalid/services/T000/B000/XXXXsecretXXXX';
  it('covers raw, URL-encoded and base64 forms and the URL path', () => {
    const forms = secretForms(url);
    expect(forms).toEqual(
      expect.arrayContaining([
        url,
        encodeURIComponent(url),
        Buffer.from(url).toString('base64'),
        '/services/T000/B000/XXXXsecretXXXX',
      ]),
    );
  });

  it('covers the password of an SMTP URL, decoded and encoded', () => {
    const forms = secretForms('smtps://ops:p%40ss%2Fw0rd!@smtp.invalid:465');
    expect(forms).toEqual(expect.arrayContaining(['p%40ss%2Fw0rd!', 'p@ss/w0rd!']));
  });

  it('redacts every form from text we render', () => {
    const text = `posting to ${url} (${encodeURIComponent(url)}) ${Buffer.from(url).toString('base64')}`;
    const out = redact(text, [url]);
    expect(out).not.toContain('XXXXsecretXXXX');
    expect(out).not.toContain(Buffer.from(url).toString('base64'));
  });

  it('skips fragments too short to mask safely', () => {
    expect(secretForms('abc')).toEqual([]);
  });
});
