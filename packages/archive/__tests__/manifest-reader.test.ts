// The manifest is read as it inflates (ManifestReader): the layout the tool writes (one JSON value
// per line) is parsed in pieces, anything else is read whole as before, and a layout that starts
// like ours but breaks it is refused. Whatever the chunking, the result is JSON.parse's.
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CAPS, createBackup, openArchive, readManifest, verifyBackup } from '../src/index.js';
import { ArchiveWindow, dataStart } from '../src/zipread.js';
import { MANIFEST_ENTRY, ManifestReader, ManifestWriter, type BackupManifest } from '../src/manifest.js';
import { tempRoot } from './fixtures.js';

const head = {
  format: 'guarded-rollout-backup/1',
  environment: 'production',
  version: null,
  commit: null,
  createdAt: '2026-12-06T08:00:00.000Z',
  tool: 'guarded-rollout',
  toolVersion: '0.0.0',
};
const totals = { fileCount: 3, totalBytes: 6 };
const sha = (c: string) => c.repeat(64);
const entries = [
  { path: 'a', type: 'directory', size: 0, mode: 0o755 },
  { path: 'a/x"},{\\n.txt', type: 'file', size: 1, mode: 0o644, sha256: sha('a') }, // JSON-looking name
  { path: 'a/é\u0301 ✓', type: 'file', size: 2, mode: 0o600, uid: 0, gid: 0, sha256: sha('b') },
  { path: 'b', type: 'file', size: 3, mode: 0o644, sha256: sha('c'), mtimeMs: 1.5 },
];
/** The layout the tool writes (ManifestWriter): totals in the closing line. */
const ours = (list: unknown[], close = `],${JSON.stringify(totals).slice(1)}`) =>
  `${JSON.stringify(head).slice(0, -1)},"entries":[\n${list.map((e) => JSON.stringify(e)).join(',\n')}\n${close}\n`;

function read(text: string, pieces: number[] = [text.length]): BackupManifest {
  const bytes = Buffer.from(text);
  const reader = new ManifestReader('b.zip');
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const n = Math.max(1, pieces[i % pieces.length]!);
    reader.push(bytes.subarray(at, at + n));
    at += n;
  }
  return reader.end();
}

describe('ManifestReader', () => {
  it('gives JSON.parse of the whole text, however the bytes are cut', () => {
    const text = ours(entries);
    const expected = JSON.parse(text);
    for (const pieces of [[1], [2], [3], [7], [64], [5, 1, 300, 2], [text.length]])
      expect(read(text, pieces)).toEqual(expected);
    expect(read(ours([]))).toEqual({ ...head, ...totals, entries: [] });
    // A plain "]}" closing line (totals in the head) reads the same way.
    const plain = `${JSON.stringify({ ...head, ...totals }).slice(0, -1)},"entries":[\n${entries.map((e) => JSON.stringify(e)).join(',\n')}\n]}\n`;
    for (const pieces of [[1], [9], [plain.length]]) expect(read(plain, pieces)).toEqual(JSON.parse(plain));
  });

  it('reads manifests in any other layout whole, as before', () => {
    const m = { ...head, ...totals, entries };
    expect(read(JSON.stringify(m))).toEqual(m); // manifests written before the line layout
    expect(read(`${JSON.stringify(m)}\n`, [3])).toEqual(m);
    expect(read(JSON.stringify(m, null, 2), [10])).toEqual(m); // pretty-printed by hand
  });

  it('refuses a layout that starts like ours and then breaks it', () => {
    const lines = entries.map((e) => JSON.stringify(e));
    const start = `${JSON.stringify(head).slice(0, -1)},"entries":[\n`;
    const broken: Array<[string, RegExp]> = [
      [`${start}${lines[0]}\n${lines[1]}\n]}\n`, /after array element|not followed by a comma/],
      [`${start}${lines[0]},\n${lines[1]},\n]}\n`, /comma follows the last entry/],
      [`${start}${lines[0]},\n]}\n`, /comma follows the last entry/],
      [`${start}${lines[0]}\n]}\n{"more":1}\n`, /text follows the end/],
      [`${start}${lines[0]},\n${lines[1]}`, /ends before the entries are closed/],
      [ours(entries, '],"entries":[]}'), /closing line repeats "entries"/], // JSON.parse would take the later one
      [ours(entries, ']]}'), /unexpected closing line/],
      [`${start}${lines[1]!.replace('"type"', '\n"type"')},\n${lines[0]}\n]}\n`, /\(.+\)/],
    ];
    for (const [text, why] of broken) {
      for (const pieces of [[1], [text.length]])
        expect(() => read(text, pieces)).toThrow(
          new RegExp(`b\\.zip: manifest .* is not valid JSON .*${why.source}`),
        );
    }
  });

  it('checks every entry as before', () => {
    const bad = ours([{ path: 'f', type: 'file', size: 1, mode: 0o644, sha256: 'nope' }]);
    expect(() => read(bad, [5])).toThrow(/entries\[0\] \(f\) lacks a sha256/);
    // 64 lowercase hex digits and nothing else: upper case, one short, one non-ASCII, a number.
    for (const sha256 of ['A'.repeat(64), 'a'.repeat(63), `${'a'.repeat(63)}\u00e9`, `${'a'.repeat(63)}g`, 7])
      expect(() => read(ours([{ path: 'f', type: 'file', size: 1, mode: 0o644, sha256 }]))).toThrow(
        /lacks a sha256/,
      );
    expect(
      read(ours([{ path: 'f', type: 'file', size: 1, mode: 0o644, sha256: '0123456789abcdef'.repeat(4) }]))
        .entries,
    ).toHaveLength(1);
    // A sparse file's "allocated" (sparse.test.ts) is a number of bytes.
    const sha256 = '0123456789abcdef'.repeat(4);
    for (const allocated of ['4096', -1, null, true])
      expect(() =>
        read(ours([{ path: 'db', type: 'file', size: 9, mode: 0o644, sha256, allocated }])),
      ).toThrow(`entries[0] (db) has "allocated" ${JSON.stringify(allocated)}; expected a number of bytes`);
    expect(
      read(ours([{ path: 'db', type: 'file', size: 9, mode: 0o644, sha256, allocated: 0 }])).entries[0]!
        .allocated,
    ).toBe(0);
  });

  it('a backup the tool writes has a manifest that is one valid JSON document, one value per line', async () => {
    const root = tempRoot('manifest-lines');
    mkdirSync(join(root, 'srv/app'), { recursive: true });
    for (let i = 0; i < 50; i++) writeFileSync(join(root, 'srv/app', `f${i}.txt`), `file ${i}\n`);
    const backup = await createBackup({
      environment: 'production',
      paths: ['srv'],
      outDir: join(root, 'out'),
      cwd: root,
    });
    const text = spawnSync('unzip', ['-p', backup.backupPath, MANIFEST_ENTRY], { encoding: 'utf8' }).stdout;
    // A real JSON parser outside Node agrees.
    const py = spawnSync(
      'python3',
      ['-c', 'import json,sys; m=json.load(sys.stdin); print(len(m["entries"]))'],
      {
        input: text,
        encoding: 'utf8',
      },
    );
    expect(py.stdout.trim()).toBe('52'); // srv, srv/app and 50 files
    expect(text.split('\n')).toHaveLength(52 + 3); // head, one line per entry, closing line, final newline
    expect(text.split('\n').at(-2)).toBe('],"fileCount":50,"totalBytes":390}');
    expect(read(text, [4096])).toEqual(JSON.parse(text));
    expect((await verifyBackup(backup.backupPath)).manifest).toEqual(JSON.parse(text));
  });

  it('read whole (up to 8 MiB) or as it inflates, a manifest gives the same result, and damage is reported as damage either way', async () => {
    const root = tempRoot('manifest-paths');
    mkdirSync(join(root, 'srv'), { recursive: true });
    for (let i = 0; i < 200; i++) writeFileSync(join(root, 'srv', `f${i}.txt`), `file ${i}\n`);
    const { backupPath } = await createBackup({
      environment: 'production',
      paths: ['srv'],
      outDir: join(root, 'out'),
      cwd: root,
    });
    const both = async (zip: string) => {
      const archive = await openArchive(zip, DEFAULT_CAPS.maxEntries);
      try {
        const outcome = async (wholeUpTo?: number) =>
          readManifest(archive, zip, wholeUpTo).then(
            (m) => ({ ok: m }),
            (error: Error) => ({ error: error.message }),
          );
        return { whole: await outcome(), streamed: await outcome(0) };
      } finally {
        archive.close();
      }
    };
    const intact = await both(backupPath);
    expect(intact.whole).toEqual(intact.streamed);
    expect((intact.whole as { ok: BackupManifest }).ok.entries).toHaveLength(201);
    // One byte of the manifest's compressed data flipped.
    const archive = await openArchive(backupPath, DEFAULT_CAPS.maxEntries);
    const entry = archive.entries.find((e) => e.name === MANIFEST_ENTRY)!;
    const at =
      dataStart(archive, new ArchiveWindow(archive, 64 * 1024), entry) + Math.floor(entry.compressedSize / 2);
    archive.close();
    const damaged = join(root, 'damaged.zip');
    copyFileSync(backupPath, damaged);
    const bytes = readFileSync(damaged);
    bytes[at] = bytes[at]! ^ 0xff;
    writeFileSync(damaged, bytes);
    const hurt = await both(damaged);
    for (const outcome of [hurt.whole, hurt.streamed]) {
      const message = (outcome as { error: string }).error;
      expect(message).toMatch(/CRC-32|is corrupt|declared/);
      expect(message).not.toMatch(/JSON/);
    }
  });

  it('a writer whose compression fails says so instead of waiting for it forever', async () => {
    const w = new ManifestWriter(head as ConstructorParameters<typeof ManifestWriter>[0]);
    const dir = { path: 'd'.repeat(200), type: 'directory' as const, size: 0, mode: 0o755 };
    for (let i = 0; i < 100_000 && !w.ready; i++) w.add(dir); // until the stream pushes back
    expect(w.ready).toBeDefined();
    (w as unknown as { deflate: { destroy(e: Error): void } }).deflate.destroy(new Error('deflate failed'));
    await w.ready; // settles: a failed stream never drains
    expect(() => w.add(dir)).toThrow('deflate failed');
    await expect(w.finish()).rejects.toThrow('deflate failed');
  });
});
