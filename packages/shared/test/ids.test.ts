import { describe, expect, it } from 'vitest';
import { idKinds, idPattern, idSchema, newId, type IdKind } from '../src/ids.js';

describe('ids', () => {
  const kinds = Object.keys(idKinds) as IdKind[];

  it.each(kinds)('%s ids carry their prefix and match their own pattern', (kind) => {
    const id = newId(kind);
    expect(id.startsWith(`${idKinds[kind].prefix}_`)).toBe(true);
    expect(idPattern(kind).test(id)).toBe(true);
    expect(idSchema(kind).safeParse(id).success).toBe(true);
  });

  it('versions and events are UUIDv7 and sort by creation time', () => {
    for (const kind of ['version', 'event'] as const) {
      const ids = Array.from({ length: 50 }, () => newId(kind));
      expect(ids[0]).toMatch(
        /^[a-z]+_[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
      expect([...ids].sort()).toEqual(ids);
    }
  });

  it('random ids do not repeat', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newId('run')));
    expect(ids.size).toBe(10_000);
  });

  it("refuses another kind's id and malformed ids", () => {
    expect(idSchema('user').safeParse(newId('accessKey')).success).toBe(false);
    expect(idSchema('user').safeParse('usr_XYZ').success).toBe(false);
    expect(idSchema('user').safeParse(`${newId('user')}\n`).success).toBe(false);
    expect(idSchema('version').safeParse('ver_0123456789abcdef01234567').success).toBe(false);
  });

  it('accepts legacy wf_ run ids kept by the migration', () => {
    expect(idSchema('run').safeParse('wf_0123456789ab').success).toBe(true);
    expect(idSchema('run').safeParse('wf_0123456789abc').success).toBe(false);
  });

  const hex32 = '0193c0de7a4b7c1d8e2f0a1b2c3d4e5f';
  it.each<[IdKind, string]>([
    ['run', `wf_sub_${hex32}`],
    ['event', `evt_${hex32}`],
    ['branch', `br_${hex32}`],
    ['version', `ver_${hex32}`],
    ['template', `tpl_${hex32}`],
    ['template', 'tpl_0123456789ab'],
    ['user', 'usr_0123456789ab'],
    ['accessKey', 'key_0123456789ab'],
    ['interaction', `select_${hex32}`],
    ['interaction', `text_input_${hex32}`],
    ['interaction', `media_${hex32}`],
    ['interaction', `file_download_${hex32}`],
  ])("accepts the original system's %s id %s", (kind, id) => {
    expect(idSchema(kind).safeParse(id).success).toBe(true);
  });

  it.each<[IdKind, string]>([
    ['event', `evt_${hex32.slice(1)}`], // 31 digits
    ['event', `evt_${hex32.toUpperCase()}`],
    ['version', `evt_${hex32}`], // another kind's prefix
    ['branch', 'br_0123456789ab'], // a short form the original never gave branches
    ['run', `wf_sub_${hex32}x`],
    ['interaction', `choose_${hex32}`],
    ['user', `usr_${hex32}`],
  ])('refuses %s id %s', (kind, id) => {
    expect(idSchema(kind).safeParse(id).success).toBe(false);
  });
});
