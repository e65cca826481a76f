// Blob storage for artifact zips, as an ArtifactSource's download URLs: GitHub answers
// GET …/actions/artifacts/{id}/zip with a 302 to a short-lived URL on another host (routes/artifacts.ts);
// this second loopback server is that host, so the client drops its Authorization header as it
// would on GitHub, and a request without a valid signature is refused.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

export class ArtifactBlobs {
  readonly zips = new Map<number, Buffer>();
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
