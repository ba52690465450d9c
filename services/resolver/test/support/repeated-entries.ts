import JSZip from 'jszip';

/**
 * A zip holding `entries` exactly as given, repeated names included. JSZip keeps one entry per
 * name when it writes, so each is written under a placeholder name of the same byte length, and
 * the placeholders are then overwritten in the local headers and the central directory (lengths
 * and CRCs stay valid). Names must be ASCII (and longer than
 * their index plus two).
 */
export async function zipWithRepeatedNames(
  entries: readonly (readonly [name: string, content: string])[],
): Promise<Buffer> {
  const zip = new JSZip();
  const placeholders = entries.map(([name], index) => {
    if (!/^[\x20-\x7e]+$/.test(name)) throw new Error(`unsupported test entry name '${name}'`);
    // One \x01, then the index and \x02: no placeholder occurs inside another, and control
    // characters never occur in the contents, so only the two name fields match.
    const tag = `\x01${index}\x02`;
    if (tag.length > name.length) throw new Error(`test entry name '${name}' is too short`);
    return tag.padEnd(name.length, '\x03');
  });
  entries.forEach(([, content], index) =>
    zip.file(placeholders[index] ?? '', content, { createFolders: false }),
  );
  const bytes = await zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
  entries.forEach(([name], index) => {
    const placeholder = Buffer.from(placeholders[index] ?? '', 'latin1');
    let found = 0;
    for (let at = bytes.indexOf(placeholder); at >= 0; at = bytes.indexOf(placeholder, at + 1)) {
      bytes.write(name, at, 'latin1');
      found++;
    }
    if (found !== 2) throw new Error(`placeholder for '${name}' found ${found} times`);
  });
  return bytes;
}
