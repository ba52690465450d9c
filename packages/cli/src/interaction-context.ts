import { idSchema, type DisplayItem, type SelectOptionView } from '@stepwise/shared';

/**
 * The context printed before a question (people.md, "Context"): the request's `display` items and
 * a select's option descriptions and images. A terminal cannot show media, so images, audio,
 * video and artifacts are printed as URLs a person can open.
 */

/** Turns a server path into an absolute URL (the server the CLI is logged in to). */
export type UrlOf = (path: string) => string;

const artifactId = idSchema('artifact');

/** Where the gateway serves an artifact's bytes (GET /v1/artifacts/{id}/content). */
export function artifactUrl(id: string, urlOf: UrlOf): string {
  return urlOf(`/v1/artifacts/${encodeURIComponent(id)}/content`);
}

/** An image given as a URL stays one; given as an artifact id, it becomes the artifact's URL. */
export function imageUrl(image: string, urlOf: UrlOf): string {
  return artifactId.safeParse(image).success ? artifactUrl(image, urlOf) : image;
}

function indented(text: string, by = '  '): string {
  return text
    .split('\n')
    .map((line) => `${by}${line}`)
    .join('\n');
}

/** The lines shown for one display item. */
export function displayLines(item: DisplayItem, urlOf: UrlOf): string {
  switch (item.kind) {
    case 'text':
    case 'markdown':
      // Markdown is shown as written: readable as it is, and never interpreted as HTML.
      return `${item.label}:\n${indented(item.value)}`;
    case 'json':
      return `${item.label}:\n${indented(JSON.stringify(item.value, null, 2) ?? 'null')}`;
    case 'artifact':
      return `${item.label} (artifact): ${artifactUrl(item.value, urlOf)}`;
    case 'image':
    case 'audio':
    case 'video':
      // A media item may name an artifact instead of a URL: its bytes' URL is printed then.
      return `${item.label} (${item.kind}): ${imageUrl(item.value, urlOf)}`;
  }
}

export function printDisplay(display: readonly DisplayItem[] | undefined, urlOf: UrlOf): void {
  if (!display || display.length === 0) return;
  process.stdout.write(`${display.map((item) => displayLines(item, urlOf)).join('\n')}\n\n`);
}

/** An option's label: its text, or its JSON without the description and image shown below it. */
export function optionLabel(option: SelectOptionView): string {
  const { value } = option;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const rest = Object.fromEntries(
      Object.entries(value).filter(([key]) => key !== 'description' && key !== 'image'),
    );
    return JSON.stringify(rest);
  }
  return JSON.stringify(value);
}

/** Options with a description or an image, listed before the choice (the list shows labels only). */
export function printOptionDetails(options: readonly SelectOptionView[], urlOf: UrlOf): void {
  const detailed = options.filter(
    (option) => option.description !== undefined || option.image !== undefined,
  );
  if (detailed.length === 0) return;
  const blocks = detailed.map((option) => {
    const lines = [`${option.index + 1}. ${optionLabel(option)}`];
    if (option.description !== undefined) lines.push(indented(option.description, '   '));
    if (option.image !== undefined) lines.push(`   image: ${imageUrl(option.image, urlOf)}`);
    return lines.join('\n');
  });
  process.stdout.write(`${blocks.join('\n')}\n\n`);
}
