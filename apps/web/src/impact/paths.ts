/**
 * The impact page's address, apart from the page itself so that the templates page can link to it
 * without loading the page's chunk.
 */
export function impactPath(templateName: string, versionId: string): string {
  return `/templates/${encodeURIComponent(templateName)}/versions/${encodeURIComponent(versionId)}/impact`;
}
