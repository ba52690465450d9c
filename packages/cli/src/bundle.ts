import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import JSZip from 'jszip';

const junk = new Set(['.DS_Store', '__MACOSX', '.git', 'node_modules']);

async function addTree(zip: JSZip, root: string, directory: string): Promise<void> {
  for (const name of (await readdir(directory)).sort()) {
    if (junk.has(name)) continue;
    const path = join(directory, name);
    if ((await stat(path)).isDirectory()) await addTree(zip, root, path);
    // Bytes, not strings: JSZip's own UTF-8 encoding can split characters at its chunk edges.
    else
      zip.file(relative(root, path).split(sep).join('/'), await readFile(path), {
        createFolders: false,
      });
  }
}

/** A folder is zipped with its contents at the root; a .zip or .json file is sent as it is. */
export async function readSubmission(
  path: string,
): Promise<{ bytes: Uint8Array; contentType: string }> {
  const info = await stat(path);
  if (info.isDirectory()) {
    const zip = new JSZip();
    await addTree(zip, path, path);
    return {
      bytes: await zip.generateAsync({ type: 'uint8array', compression: 'DEFLATE' }),
      contentType: 'application/zip',
    };
  }
  const bytes = await readFile(path);
  return { bytes, contentType: path.endsWith('.json') ? 'application/json' : 'application/zip' };
}
