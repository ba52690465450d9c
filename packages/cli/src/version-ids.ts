/**
 * Version ids in tables. A version id is a UUIDv7, whose first half is its creation time: versions
 * submitted the same day share it, so the short form keeps the random end, which tells them apart.
 */

const SHORT_LENGTH = 8;

/** `ver_0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b` → `ver_…2e3f4a5b`. */
export function shortVersion(versionId: string): string {
  const at = versionId.indexOf('_');
  if (at < 0 || versionId.length - at - 1 <= SHORT_LENGTH + 1) return versionId;
  return `${versionId.slice(0, at + 1)}…${versionId.slice(-SHORT_LENGTH)}`;
}

/**
 * The versions a table showed short, each with its whole id, so that one can be copied into
 * `--from-version` or `--to`.
 */
export function versionLegend(versionIds: Iterable<string>): string[] {
  const lines: string[] = [];
  for (const versionId of new Set(versionIds))
    if (shortVersion(versionId) !== versionId)
      lines.push(`  ${shortVersion(versionId)} is ${versionId}`);
  return lines.length > 0 ? ['versions:', ...lines] : [];
}
