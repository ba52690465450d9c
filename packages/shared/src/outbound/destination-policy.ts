import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Which hosts `api.*` modules may call. An allow-list from config (OUTBOUND_ALLOWED_HOSTS): when it
 * is not empty, only its hosts may be called. Whatever the list, an address in a private,
 * loopback, link-local or otherwise special range is refused unless the list names that host or
 * address itself, and the check applies to the address a name resolves to, not only to the name.
 */
export interface DestinationPolicy {
  allowedHosts: readonly string[];
}

const special = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  special.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
  ['2001:db8::', 32],
] as const) {
  special.addSubnet(network, prefix, 'ipv6');
}

function normalizeHost(host: string): string {
  return host.replace(/^\[|\]$/g, '').toLowerCase();
}

/** IPv4-mapped IPv6 (::ffff:10.0.0.1) is checked as the IPv4 address it carries. */
function unmapped(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return { address: mapped[1], family: 'ipv4' };
  return { address, family: isIP(address) === 6 ? 'ipv6' : 'ipv4' };
}

export function isSpecialAddress(address: string): boolean {
  const { address: plain, family } = unmapped(normalizeHost(address));
  return special.check(plain, family);
}

export class DestinationRefused extends Error {
  override readonly name = 'DestinationRefused';
}

/** Refuses a host by name before any lookup (the allow-list). */
export function checkHost(policy: DestinationPolicy, host: string): void {
  const name = normalizeHost(host);
  const allowed = policy.allowedHosts.map(normalizeHost);
  if (allowed.length > 0 && !allowed.includes(name)) {
    throw new DestinationRefused(`host '${name}' is not in OUTBOUND_ALLOWED_HOSTS`);
  }
  if (isIP(name) && isSpecialAddress(name) && !allowed.includes(name)) {
    throw new DestinationRefused(
      `address ${name} is private, loopback or link-local; allow it explicitly to call it`,
    );
  }
}

/** Refuses a resolved address of `host` (a name that resolves somewhere private). */
export function checkResolvedAddress(
  policy: DestinationPolicy,
  host: string,
  address: string,
): void {
  const allowed = policy.allowedHosts.map(normalizeHost);
  if (
    isSpecialAddress(address) &&
    !allowed.includes(normalizeHost(host)) &&
    !allowed.includes(normalizeHost(address))
  ) {
    throw new DestinationRefused(
      `host '${normalizeHost(host)}' resolves to ${address}, a private, loopback or link-local address; allow it explicitly to call it`,
    );
  }
}

/**
 * Refuses a URL whose host the policy refuses, by name or by any address it resolves to now (a
 * subscription is checked when it is made; each delivery is checked again when it connects, as a
 * name may resolve elsewhere later). A name that does not resolve is refused too: nothing could
 * be delivered to it.
 */
export async function checkDestinationUrl(policy: DestinationPolicy, url: string): Promise<void> {
  const host = new URL(url).hostname;
  checkHost(policy, host);
  const name = normalizeHost(host);
  if (isIP(name)) return;
  let addresses: { address: string }[];
  try {
    addresses = await lookup(name, { all: true });
  } catch {
    throw new DestinationRefused(`host '${name}' does not resolve`);
  }
  for (const { address } of addresses) checkResolvedAddress(policy, name, address);
}
