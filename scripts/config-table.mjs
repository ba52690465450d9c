// Prints the configuration table rendered from the config schemas; with --write, puts it into
// README.md between the config-table markers. A test keeps the README equal to this output.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderConfigTable } from '@stepwise/shared/node';

const table = renderConfigTable();
if (!process.argv.includes('--write')) {
  console.log(table);
} else {
  const path = new URL('../README.md', import.meta.url);
  const readme = readFileSync(path, 'utf8');
  const pattern = /(<!-- config-table:start -->\n)[\s\S]*?(<!-- config-table:end -->)/;
  if (!pattern.test(readme)) throw new Error('README.md has no config-table markers');
  writeFileSync(path, readme.replace(pattern, `$1${table}\n$2`));
}
