import { describe, expect, it } from '@jest/globals';
import { redact, redactor, secretForms } from '../src/secrets.js';

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

  it('covers every path token and query value beyond the public prefix, raw and decoded', () => {
    const teams =
      'https://prod-1.westus.logic.azure.com/workflows/wfID123456/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=SIGvalue%2Bx%3D';
    const forms = secretForms(teams);
    expect(forms).toEqual(expect.arrayContaining(['wfID123456', 'SIGvalue%2Bx%3D', 'SIGvalue+x=']));
    expect(forms).not.toContain('workflows');
    expect(forms).not.toContain('2016-06-01');
    expect(secretForms(url)).toEqual(expect.arrayContaining(['XXXXsecretXXXX', '/T000/B000/XXXXsecretXXXX']));
  });

  it('covers the SMTP login as AUTH LOGIN and AUTH PLAIN send it, and base64 inside longer base64', () => {
    const forms = secretForms('smtp://mailer7:s3cret-pass@smtp.invalid:587');
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    expect(forms).toEqual(
      expect.arrayContaining([
        'mailer7',
        b64('mailer7'),
        b64('s3cret-pass'),
        b64('\0mailer7\0s3cret-pass'),
        b64('mailer7\0mailer7\0s3cret-pass'),
      ]),
    );
    // The password inside any base64 text, whatever its byte offset.
    const redactOne = redactor(['smtp://mailer7:s3cret-pass@smtp.invalid:587']);
    for (const prefix of ['', 'a', 'ab', 'abc', 'abcd']) {
      const blob = b64(`${prefix}s3cret-pass and more`);
      expect(redactOne(blob)).toContain('***');
    }
    expect(forms.some((f) => f.includes('\0'))).toBe(false);
  });

  it('covers JSON-escaped forms (also escaped twice)', () => {
    const secret = 'quote"back\\slash-secret';
    const forms = secretForms(secret);
    expect(forms).toEqual(
      expect.arrayContaining([
        JSON.stringify(secret).slice(1, -1),
        JSON.stringify(JSON.stringify(secret).slice(1, -1)).slice(1, -1),
      ]),
    );
  });
});
