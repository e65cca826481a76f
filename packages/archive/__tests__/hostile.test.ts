import { describe, it, expect } from '@jest/globals';
import { readFileSync, writeFileSync, readdirSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseEvidenceLog } from '@guarded-rollout/evidence';
import { createBackup, normaliseEntryName, restoreBackup, type RestoreOptions } from '../src/index.js';
import { buildZip, manifestFor, writeChecksum, writeZipWithChecksum, type RawEntry } from './rawzip.js';
import { makeTree, snapshot, tempRoot } from './fixtures.js';

const T0 = new Date('2026-11-23T22:00:00Z');
const text = (s: string): Buffer => Buffer.from(s);

/** A live tree and a place for archives; returns a restore runner that asserts "nothing changed". */
function scene(label: string) {
  const root = tempRoot(label);
  mkdirSync(join(root, 'live'));
  makeTree(join(root, 'live'));
  const before = snapshot(join(root, 'live'));
  const refuse = async (zipPath: string, message: RegExp, extra: Partial<RestoreOptions> = {}) => {
    const result = await restoreBackup({
      environment: 'production',
      backupPath: zipPath,
      target: 'live',
      cwd: root,
      now: () => T0,
      ...extra,
    });
    expect(result.status).toBe('refused');
    expect(result.message).toMatch(message);
    expect(snapshot(join(root, 'live'))).toEqual(before);
    // no staging or pre-rollback leftovers beside the target
    expect(readdirSync(root).filter((n) => n.includes('staging') || n.includes('pre-rollback'))).toEqual([]);
    expect(readdirSync(join(root, 'live')).filter((n) => n === '.guarded-rollout')).toEqual([]);
    const log = parseEvidenceLog(readFileSync(join(root, 'rollback.log'), 'utf8'));
    expect(log.result).toMatchObject({ status: 'fail', outcome: 'refused' });
    return result;
  };
  return { root, refuse };
}

function hostile(
  root: string,
  name: string,
  entries: RawEntry[],
  options: { manifest?: boolean; environment?: string } = {},
): string {
  const path = join(root, `${name}.zip`);
  const all = options.manifest === false ? entries : [...entries, manifestFor(entries, options.environment)];
  writeZipWithChecksum(path, buildZip(all));
  return path;
}

describe('a hostile or damaged archive is refused with a specific message and the live tree is unchanged', () => {
  const cases: Array<[string, RawEntry[], RegExp]> = [
    ['traversal', [{ name: '../evil.txt', data: text('x') }], /climbs out of the target with "\.\."/],
    ['nested traversal', [{ name: 'a/../../evil.txt', data: text('x') }], /climbs out of the target/],
    ['absolute path', [{ name: '/tmp/evil.txt', data: text('x') }], /is an absolute path/],
    [
      'NUL byte',
      [{ name: Buffer.from('ok.txt\0../evil', 'latin1'), data: text('x') }],
      /contains a NUL byte/,
    ],
    [
      'symlink escape',
      [{ name: 'link', data: text('../../etc'), mode: 0o120777 }],
      /symlink "link" points outside the target \(to "\.\.\/\.\.\/etc"\)/,
    ],
    ['absolute symlink', [{ name: 'link', data: text('/etc'), mode: 0o120777 }], /points outside the target/],
    [
      'symlink escaping through another symlink',
      [
        { name: 's', data: text('.'), mode: 0o120777 },
        { name: 'l', data: text('s/../etc'), mode: 0o120777 },
      ],
      /symlink "l" has "\.\." after a name in its target/,
    ],
    [
      'symlink then file beneath it',
      [
        { name: 'sub/', mode: 0o040755 },
        { name: 'link', data: text('sub'), mode: 0o120777 },
        { name: 'link/file.txt', data: text('x') },
      ],
      /entry "link\/file\.txt" lies beneath symlink "link"/,
    ],
    [
      'a name flagged UTF-8 whose bytes are not',
      [{ name: Buffer.from('caf\xe9.txt', 'latin1'), data: text('x') }],
      /entry "caf\uFFFD\.txt" has a name that is not valid UTF-8/,
    ],
    [
      'collision after normalisation',
      [
        { name: 'a.txt', data: text('1') },
        { name: './a.txt', data: text('2') },
      ],
      /entry "\.\/a\.txt" collides with "a\.txt" after normalisation/,
    ],
    [
      'overlapping entries (one compressed stream shared by many names: the Fifield bomb)',
      [
        { name: 'a.bin', data: Buffer.alloc(1024 * 1024), deflate: true },
        { name: 'b.bin', data: Buffer.alloc(1024 * 1024), deflate: true, sharesDataOf: 0 },
        { name: 'c.bin', data: Buffer.alloc(1024 * 1024), deflate: true, sharesDataOf: 0 },
      ],
      /entry "a\.bin" overlaps the next entry .*overlapping-entry zip bomb/,
    ],
  ];
  it.each(cases)('%s', async (label, entries, message) => {
    const { root, refuse } = scene(label.replace(/\W+/g, '-'));
    await refuse(hostile(root, 'h', entries), message);
  });

  it('names that are ordinary on Linux restore inside the target, exactly as stored', async () => {
    const { root } = scene('linux-names');
    const entries: RawEntry[] = [
      { name: 'C:/notes.txt', data: text('drive-letter-looking directory') },
      { name: '..\\evil.txt', data: text('one name with a backslash') },
      { name: 'caf\u00e9.txt', data: text('NFC') },
      { name: 'cafe\u0301.txt', data: text('NFD') },
      { name: 'odd-\uFFFD.txt', data: text('a real U+FFFD, valid UTF-8') },
      { name: 'zeros.bin', data: Buffer.alloc(20 * 1024 * 1024), deflate: true },
    ];
    const r = await restoreBackup({
      environment: 'production',
      backupPath: hostile(root, 'names', entries),
      target: 'live',
      cwd: root,
      now: () => T0,
    });
    expect(r).toMatchObject({ status: 'restored-unverified' }); // no health URL: restored, not verified
    expect(readFileSync(join(root, 'live/C:/notes.txt'), 'utf8')).toBe('drive-letter-looking directory');
    expect(readFileSync(join(root, 'live/..\\evil.txt'), 'utf8')).toBe('one name with a backslash');
    expect(readFileSync(join(root, 'live/caf\u00e9.txt'), 'utf8')).toBe('NFC');
    expect(readFileSync(join(root, 'live/cafe\u0301.txt'), 'utf8')).toBe('NFD');
    expect(readFileSync(join(root, 'live/odd-\uFFFD.txt'), 'utf8')).toBe('a real U+FFFD, valid UTF-8');
    expect(readFileSync(join(root, 'live/zeros.bin')).equals(Buffer.alloc(20 * 1024 * 1024))).toBe(true);
    expect(readdirSync(root).filter((n) => n.includes('evil'))).toEqual([]);
  });

  it('a name no file system can hold (one path component over 255 bytes) is refused before the live tree is touched', async () => {
    const { root, refuse } = scene('name-too-long');
    const long = 'n'.repeat(300);
    const r = await refuse(
      hostile(root, 'h', [
        { name: 'dir/', mode: 0o040755 },
        { name: `dir/${long}`, data: text('x') },
      ]),
      /^.*h\.zip: entry "dir\/n{300}": its name "n{32}…" is 300 bytes; file systems allow at most 255 bytes per path component, so it cannot be restored$/,
    );
    expect(r.message.split('\n')).toHaveLength(1);
    // Bytes, not characters: 128 two-byte letters are 256 bytes.
    await refuse(
      hostile(root, 'h2', [{ name: '\u00e9'.repeat(128), data: text('x') }]),
      /is 256 bytes; file systems allow at most 255/,
    );
    // Exactly 255 bytes restores.
    const ok = await restoreBackup({
      environment: 'production',
      backupPath: hostile(root, 'h3', [{ name: `${'\u00e9'.repeat(127)}x`, data: text('fits') }]),
      target: 'live',
      cwd: root,
      now: () => T0,
    });
    expect(ok.status).toBe('restored-unverified');
    expect(readFileSync(join(root, 'live', `${'\u00e9'.repeat(127)}x`), 'utf8')).toBe('fits');
  });

  it('on Windows rules, backslashes and drive letters are refused', () => {
    expect(() => normaliseEntryName('..\\evil.txt', true)).toThrow(/contains a backslash/);
    expect(() => normaliseEntryName('C:/evil.txt', true)).toThrow(/starts with a drive letter/);
    expect(normaliseEntryName('..\\evil.txt', false)).toBe('..\\evil.txt');
  });

  it('under-declared size: the entry inflates past what its header says', async () => {
    const { root, refuse } = scene('under');
    await refuse(
      hostile(root, 'h', [
        { name: 'big.txt', data: Buffer.alloc(1024 * 1024, 'a'), deflate: true, declaredSize: 100 },
      ]),
      /entry "big\.txt" (inflates past|is corrupt)/,
    );
  });

  it('sizes that disagree with the manifest', async () => {
    const { root, refuse } = scene('size');
    const entries = [{ name: 'a.txt', data: text('hello') }];
    const manifest = manifestFor([{ name: 'a.txt', data: text('hello!') }]);
    const path = join(root, 'h.zip');
    writeZipWithChecksum(path, buildZip([...entries, manifest]));
    await refuse(path, /declares 5 bytes but the manifest says 6: sizes disagree/);
  });

  it('a path the manifest lists twice (matched in order, or through its table)', async () => {
    const { root, refuse } = scene('dup');
    const entries = [
      { name: 'a.txt', data: text('hello') },
      { name: 'b.txt', data: text('x') },
    ];
    for (const listed of [
      [...entries, entries[0]!],
      [entries[1]!, entries[0]!, entries[0]!],
    ]) {
      const path = join(root, `h${listed.length}-${listed[0]!.name}.zip`);
      writeZipWithChecksum(path, buildZip([...entries, manifestFor(listed)]));
      await refuse(path, /the manifest lists "a\.txt" more than once/);
    }
  });

  it('more entries than the cap', async () => {
    const { root, refuse } = scene('count');
    const entries = Array.from({ length: 10 }, (_, i) => ({ name: `f${i}.txt`, data: text('x') }));
    await refuse(hostile(root, 'h', entries), /more than the cap of 5|exceed the cap of 5/, {
      caps: { maxEntries: 5 },
    });
  });

  it('no manifest (not our backup)', async () => {
    const { root, refuse } = scene('nomanifest');
    await refuse(
      hostile(root, 'h', [{ name: 'a.txt', data: text('x') }], { manifest: false }),
      /has no manifest/,
    );
  });

  describe('damage to a real backup', () => {
    async function realBackup(root: string, env = 'production'): Promise<string> {
      mkdirSync(join(root, 'src'));
      writeFileSync(join(root, 'src/a.txt'), 'A'.repeat(50_000));
      writeFileSync(join(root, 'src/b.bin'), randomBytes(70_000)); // random: stored, so a flipped byte lands in its data
      return (await createBackup({ environment: env, paths: ['src'], cwd: root, now: () => T0 })).backupPath;
    }

    it('wrong checksum', async () => {
      const { root, refuse } = scene('sum');
      const zip = await realBackup(root);
      writeFileSync(`${zip}.sha256`, `${'0'.repeat(64)}  backups/${zip.split('/').pop()}\n`);
      await refuse(zip, /checksum mismatch for .*the backup is corrupt or was altered/);
    });

    it('missing or malformed .sha256', async () => {
      const { root, refuse } = scene('nosum');
      const zip = await realBackup(root);
      writeFileSync(`${zip}.sha256`, '');
      await refuse(zip, /not in sha256sum format/);
      rmSync(`${zip}.sha256`);
      await refuse(zip, /\.sha256 is missing: a backup without its checksum is incomplete/);
    });

    it('flipped byte (checksum recomputed, so the CRC must catch it)', async () => {
      const { root, refuse } = scene('flip');
      const zip = await realBackup(root);
      const bytes = readFileSync(zip);
      const at = bytes.indexOf(Buffer.from('b.bin')) + 'b.bin'.length + 1000; // inside b.bin's data
      bytes[at] = bytes[at]! ^ 0xff;
      writeFileSync(zip, bytes);
      writeChecksum(zip);
      await refuse(zip, /fails its CRC-32 check|is corrupt/);
    });

    it('flipped byte without recomputing: the checksum catches it first', async () => {
      const { root, refuse } = scene('flip2');
      const zip = await realBackup(root);
      const bytes = readFileSync(zip);
      bytes[100] = bytes[100]! ^ 0x01;
      writeFileSync(zip, bytes);
      await refuse(zip, /checksum mismatch/);
    });

    it('an archive of 33,000 entries (a restore hashes it on the main thread first): altered, the checksum says so first; intact, it restores', async () => {
      const { root, refuse } = scene('many');
      for (let d = 0; d < 33; d++) {
        mkdirSync(join(root, `src/d${d}`), { recursive: true });
        for (let f = 0; f < 1000; f++) writeFileSync(join(root, `src/d${d}/f${f}`), String(f % 10));
      }
      const zip = (
        await createBackup({ environment: 'production', paths: ['src'], cwd: root, now: () => T0 })
      ).backupPath;
      const intact = readFileSync(zip);
      const bytes = Buffer.from(intact);
      bytes[100] = bytes[100]! ^ 0x01;
      writeFileSync(zip, bytes);
      await refuse(zip, /checksum mismatch/);
      writeFileSync(zip, intact);
      const r = await restoreBackup({
        environment: 'production',
        backupPath: zip,
        target: 'live',
        cwd: root,
      });
      expect(r.status).toBe('restored-unverified');
      expect(readdirSync(join(root, 'live/src'))).toHaveLength(33);
      expect(readFileSync(join(root, 'live/src/d32/f999'), 'utf8')).toBe('9');
    }, 60_000);

    it('truncated (checksum recomputed)', async () => {
      const { root, refuse } = scene('trunc');
      const zip = await realBackup(root);
      const bytes = readFileSync(zip);
      writeFileSync(zip, bytes.subarray(0, Math.floor(bytes.length / 2)));
      writeChecksum(zip);
      await refuse(zip, /is not a readable zip .* truncated or corrupt/);
    });

    it('wrong environment, unless --force', async () => {
      const { root, refuse } = scene('env');
      const zip = await realBackup(root, 'staging');
      await refuse(zip, /belongs to environment "staging", not "production"; pass --force/);
      const forced = await restoreBackup({
        environment: 'production',
        backupPath: zip,
        target: 'live',
        cwd: root,
        now: () => T0,
        force: true,
      });
      expect(forced.status).toBe('restored-unverified'); // no health URL: restored, not verified
      expect(readFileSync(join(root, 'live/src/a.txt'), 'utf8')).toBe('A'.repeat(50_000));
      // Only the backup's roots are replaced: the rest of the live tree stays.
      expect(readFileSync(join(root, 'live/readme.txt'), 'utf8')).toBe('hello\n'.repeat(1000));
    });

    it('--force never skips integrity: a forced restore of a corrupt backup is still refused', async () => {
      const { root, refuse } = scene('forcecorrupt');
      const zip = await realBackup(root);
      writeFileSync(`${zip}.sha256`, `${'0'.repeat(64)}  ${zip.split('/').pop()}\n`);
      await refuse(zip, /checksum mismatch/, { force: true });
    });

    // 300 files: backup and restore take their worker-pool paths (deflate and check-and-write in
    // worker threads); a damaged entry there must be refused the same way, naming the entry.
    async function manyFileBackup(root: string): Promise<string> {
      mkdirSync(join(root, 'many'));
      for (let i = 0; i < 300; i++)
        writeFileSync(
          join(root, `many/f${i}.${i % 3 === 0 ? 'bin' : 'txt'}`),
          i % 3 === 0 ? randomBytes(600 + i) : `line ${i}\n`.repeat(60 + i),
        );
      return (await createBackup({ environment: 'production', paths: ['many'], cwd: root, now: () => T0 }))
        .backupPath;
    }

    it('many files: a flipped byte in a stored entry fails its CRC-32 in a writer thread', async () => {
      const { root, refuse } = scene('poolflip');
      const zip = await manyFileBackup(root);
      const bytes = readFileSync(zip);
      const at = bytes.indexOf(Buffer.from('many/f150.bin')) + 'many/f150.bin'.length + 100;
      bytes[at] = bytes[at]! ^ 0xff;
      writeFileSync(zip, bytes);
      writeChecksum(zip);
      await refuse(zip, /entry "many\/f150\.bin" fails its CRC-32 check/);
    });

    it('many files: damaged deflate data is refused, naming the entry', async () => {
      const { root, refuse } = scene('pooldeflate');
      const zip = await manyFileBackup(root);
      const bytes = readFileSync(zip);
      const at = bytes.indexOf(Buffer.from('many/f200.txt')) + 'many/f200.txt'.length + 3;
      for (let i = 0; i < 8; i++) bytes[at + i] = 0xff;
      writeFileSync(zip, bytes);
      writeChecksum(zip);
      await refuse(
        zip,
        /entry "many\/f200\.txt" (is corrupt|fails its CRC-32 check|holds \d+ bytes|inflates past)/,
      );
    });

    it('many files: a round trip through both pools is byte-identical and unzip agrees', async () => {
      const root = tempRoot('poolround');
      const zip = await manyFileBackup(root);
      const listing = execFileSync('unzip', ['-t', zip], { encoding: 'utf8' });
      expect(listing).toMatch(/No errors detected/);
      const want = snapshot(join(root, 'many'));
      const r = await restoreBackup({
        environment: 'production',
        backupPath: zip,
        target: 'live',
        cwd: root,
        now: () => T0,
      });
      expect(r.status).toBe('restored-unverified');
      expect(snapshot(join(root, 'live/many'))).toEqual(want);
    });

    it('missing backup file', async () => {
      const { root, refuse } = scene('missing');
      await refuse(join(root, 'backups/dhash_production_20260101T000000Z.zip'), /does not exist/);
    });
  });
});
