// Artifact zips the way GitHub serves them: GET …/actions/artifacts/{id}/zip answers 302 with a
// short-lived URL on another host (here a second loopback server standing in for blob storage,
// so the client drops its Authorization header as it would on GitHub); an expired artifact is 410.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { FakeGitHub } from '../server.js';

export class ArtifactBlobs {
  readonly zips = new Map<number, Buffer>();
  readonly expired = new Set<number>();
  /** Requests that reached blob storage still carrying an Authorization header (should be 0). */
  leakedAuthorization = 0;
  downloads = 0;
  private server: Server | undefined;
  private url = '';
  private readonly tickets = new Map<string, number>();

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      if (req.headers.authorization) this.leakedAuthorization++;
      const id = this.tickets.get(new URL(req.url ?? '/', 'http://blob').searchParams.get('sig') ?? '');
      const zip = id === undefined ? undefined : this.zips.get(id);
      if (!zip) {
        res.writeHead(403, { 'content-type': 'application/xml' });
        res.end('<Error><Code>AuthenticationFailed</Code></Error>');
        return;
      }
      this.downloads++;
      res.writeHead(200, { 'content-type': 'application/zip', 'content-length': String(zip.length) });
      res.end(zip);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    // "localhost" rather than 127.0.0.1: another origin than the API, as blob storage is.
    this.url = `http://localhost:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  signedUrl(artifactId: number): string {
    const sig = randomBytes(12).toString('hex');
    this.tickets.set(sig, artifactId);
    return `${this.url}/artifacts/${artifactId}.zip?sig=${sig}`;
  }
}

export function installArtifactDownloadRoutes(fake: FakeGitHub, blobs: ArtifactBlobs): ArtifactBlobs {
  fake.on('actions/download-artifact', (req) => {
    const id = Number(req.params.artifact_id);
    if (req.params.archive_format !== 'zip')
      return {
        status: 404,
        body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' },
      };
    if (blobs.expired.has(id))
      return {
        status: 410,
        body: { message: 'Artifact has expired', documentation_url: 'https://docs.github.com/rest' },
      };
    if (!blobs.zips.has(id))
      return {
        status: 404,
        body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' },
      };
    return { status: 302, headers: { location: blobs.signedUrl(id) } };
  });
  return blobs;
}
