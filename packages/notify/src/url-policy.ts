// Where a notification may be sent. A webhook URL is a secret somebody pasted into CI, and the
// runner may sit in a cloud VM: a URL (or a DNS name) pointing at the instance metadata service
// would hand its credentials to whoever can read the receiver's answer in our log. So: https only
// (http only to loopback, for local sinks), link-local and cloud metadata addresses refused unless
// the operator allows them explicitly (NOTIFY_ALLOW_LINK_LOCAL=1), checked on the literal host and
// again on every address the name resolves to. Redirects are never followed (see deliver.ts).
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

export const ALLOW_LINK_LOCAL_VARIABLE = 'NOTIFY_ALLOW_LINK_LOCAL';

/** Cloud metadata names that resolve to the metadata service inside the VM. */
const METADATA_NAMES = new Set([
  'metadata.google.internal',
  'metadata.goog',
  'metadata',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.azure.internal',
]);

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

function ipv4Parts(address: string): number[] | undefined {
  const parts = address.split('.').map(Number);
  return parts.length === 4 && parts.every((p) => Number.isInteger(p) && p >= 0 && p <= 255)
    ? parts
    : undefined;
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d or ::ffff:XXXX:XXXX). */
function mappedIpv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:0{0,4}:){0,5}:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:0{0,4}:){0,5}:?ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) {
    const hi = parseInt(hex[1]!, 16);
    const lo = parseInt(hex[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return undefined;
}

/** Why an IP address is refused (link-local or a cloud metadata service), or undefined. */
export function forbiddenAddress(address: string): string | undefined {
  const bare = address.replace(/^\[|\]$/g, '');
  const v4 = isIP(bare) === 4 ? bare : isIP(bare) === 6 ? mappedIpv4(bare) : undefined;
  if (v4) {
    const p = ipv4Parts(v4);
    if (!p) return undefined;
    if (p[0] === 169 && p[1] === 254)
      return `${v4} is a link-local address (169.254.0.0/16, where cloud metadata services live)`;
    if (v4 === '100.100.100.200') return `${v4} is the Alibaba Cloud metadata service`;
    return undefined;
  }
  if (isIP(bare) === 6) {
    const lower = bare.toLowerCase();
    if (/^fe[89ab][0-9a-f]?:/.test(lower)) return `${bare} is a link-local address (fe80::/10)`;
    if (lower === 'fd00:ec2::254') return `${bare} is the AWS metadata service (IPv6)`;
  }
  return undefined;
}

export interface UrlPolicy {
  /** Allow link-local and metadata destinations (NOTIFY_ALLOW_LINK_LOCAL=1). */
  allowLinkLocal?: boolean;
}

export function policyFromEnv(env: NodeJS.ProcessEnv): UrlPolicy {
  const v = env[ALLOW_LINK_LOCAL_VARIABLE]?.trim().toLowerCase();
  return { allowLinkLocal: v === '1' || v === 'true' || v === 'yes' };
}

const HOW_TO_ALLOW = `refused (set ${ALLOW_LINK_LOCAL_VARIABLE}=1 to allow it on purpose)`;

/** A problem with a URL's scheme or literal host, worded without the URL; undefined when usable. */
export function destinationProblem(
  url: URL,
  policy: UrlPolicy,
  schemes: 'http' | 'smtp',
): string | undefined {
  const host = url.hostname.toLowerCase();
  if (schemes === 'http') {
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_NAMES.has(host)))
      return `must be an https:// URL (http:// only to 127.0.0.1, ::1 or localhost; found a ${url.protocol.replace(':', '')}: URL)`;
  }
  if (policy.allowLinkLocal) return undefined;
  if (METADATA_NAMES.has(host.replace(/\.$/, '')))
    return `points at the cloud metadata service (${host}); ${HOW_TO_ALLOW}`;
  const why = forbiddenAddress(host);
  if (why) return `points at ${why}; ${HOW_TO_ALLOW}`;
  return undefined;
}

/** A destination refused by the policy (never retried). */
export class DestinationRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DestinationRefusedError';
  }
}

/** Resolves the host and refuses it when any address is link-local or a metadata service.
 *  IP literals are checked without DNS. Throws an Error with a user-facing message. */
export async function assertResolvedHostAllowed(
  hostname: string,
  policy: UrlPolicy,
  resolve: typeof lookup = lookup,
): Promise<void> {
  if (policy.allowLinkLocal) return;
  const host = hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) || LOOPBACK_NAMES.has(host.toLowerCase())) return;
  const addresses = await resolve(host, { all: true, verbatim: true });
  for (const { address } of addresses) {
    const why = forbiddenAddress(address);
    if (why) throw new DestinationRefusedError(`the host resolves to ${why}; ${HOW_TO_ALLOW}`);
  }
}
