import { describe, expect, it } from 'vitest';
import {
  checkHost,
  checkResolvedAddress,
  isSpecialAddress,
} from '../src/outbound/destination-policy.js';

describe('the outbound destination policy', () => {
  it.each([
    '127.0.0.1',
    '127.8.9.10',
    '10.0.0.1',
    '172.16.5.4',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    '224.0.0.1',
  ])('%s is special', (address) => {
    expect(isSpecialAddress(address)).toBe(true);
  });

  it.each(['93.184.216.34', '8.8.8.8', '2606:4700::1111', '172.32.0.1', '11.0.0.1'])(
    '%s is public',
    (address) => {
      expect(isSpecialAddress(address)).toBe(false);
    },
  );

  it('refuses special addresses unless named explicitly', () => {
    expect(() => checkHost({ allowedHosts: [] }, '127.0.0.1')).toThrow(
      /private, loopback or link-local/,
    );
    expect(() => checkHost({ allowedHosts: [] }, '[::1]')).toThrow();
    expect(() => checkHost({ allowedHosts: ['127.0.0.1'] }, '127.0.0.1')).not.toThrow();
    expect(() => checkHost({ allowedHosts: [] }, 'api.example.com')).not.toThrow();
  });

  it('with an allow-list, refuses every host not on it', () => {
    const policy = { allowedHosts: ['api.example.com'] };
    expect(() => checkHost(policy, 'API.example.com')).not.toThrow();
    expect(() => checkHost(policy, 'evil.example.com')).toThrow(/not in OUTBOUND_ALLOWED_HOSTS/);
  });

  it('checks what a name resolves to, not only the name', () => {
    expect(() =>
      checkResolvedAddress({ allowedHosts: [] }, 'innocent.example', '10.1.2.3'),
    ).toThrow(/resolves to 10\.1\.2\.3/);
    expect(() =>
      checkResolvedAddress({ allowedHosts: ['innocent.example'] }, 'innocent.example', '10.1.2.3'),
    ).not.toThrow();
    expect(() =>
      checkResolvedAddress({ allowedHosts: [] }, 'public.example', '93.184.216.34'),
    ).not.toThrow();
  });
});
