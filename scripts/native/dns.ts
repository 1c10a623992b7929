// The native stack's stand-in for Docker's embedded DNS (127.0.0.11): a real dnsmasq that answers
// from the stack's hosts file, so that HAProxy's `resolvers` section (haproxy.cfg) re-resolves the
// replicas at run time exactly as it does in compose. Used by scripts/native/stack.ts and by the
// HAProxy config tests (test/config/haproxy.test.ts). Needs Debian's dnsmasq-base.
import { spawnSync } from 'node:child_process';
import { Resolver } from 'node:dns/promises';

/**
 * dnsmasq, in the foreground, answering only from `hostsFile` on `address`:53. Names that are not
 * in the file get NXDOMAIN (`--local=/#/`), as Docker's DNS answers for a stopped container's
 * name, and nothing is forwarded anywhere. dnsmasq re-reads the file on SIGHUP, which is how the
 * stack moves a replica to a new address. It reads the file again as `nobody` (it drops root
 * after start): the file must be world-readable and its directory searchable.
 */
export function dnsmasqCommand(address: string, hostsFile: string): { command: string; args: string[] } {
  if (spawnSync('dnsmasq', ['--version']).error) {
    throw new Error('dnsmasq is not installed: apt-get install -y dnsmasq-base (the binary only, no system service)');
  }
  return {
    command: 'dnsmasq',
    args: [
      '--keep-in-foreground',
      '--log-facility=-',
      '--pid-file=',
      '--no-resolv',
      '--no-hosts',
      `--addn-hosts=${hostsFile}`,
      '--local=/#/',
      `--listen-address=${address}`,
      '--bind-interfaces',
      '--port=53',
      // Hosts-file answers carry TTL 0 already; no cache, so a SIGHUP takes effect at once.
      '--cache-size=0',
    ],
  };
}

/** The resolv.conf that the stack's processes see in place of the host's: the dnsmasq above. */
export const resolvConf = (address: string) => `# the native stack's DNS (scripts/native/dns.ts), as 127.0.0.11 is in compose\nnameserver ${address}\n`;

/** Whether the DNS server at `address` answers `name` with an A record (with `expected`, that one). */
export async function resolvesTo(address: string, name: string, expected?: string): Promise<boolean> {
  const resolver = new Resolver({ timeout: 500, tries: 1 });
  resolver.setServers([address]);
  try {
    const answers = await resolver.resolve4(name);
    return expected === undefined ? answers.length > 0 : answers.includes(expected);
  } catch {
    return false;
  }
}
