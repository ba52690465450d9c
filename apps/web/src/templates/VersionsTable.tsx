import { useState } from 'react';
import { Link } from 'react-router';
import { formatBytes } from '../answer/media';
import { impactPath } from '../impact/paths';
import { formatDateTime } from '../util/time';
import { shortHash, type VersionSummary } from './queries';

/** A content hash, short on screen; the full hash in its title and one click from the clipboard. */
function ContentHash({
  hash,
  versionId,
  onCopied,
}: {
  hash: string;
  versionId: string;
  onCopied: (message: string) => void;
}) {
  const copy = async () => {
    try {
      if (!navigator.clipboard) throw new Error('no clipboard');
      await navigator.clipboard.writeText(hash);
      onCopied(`Copied the content hash of ${versionId}.`);
    } catch {
      // No clipboard (an insecure origin, a refused permission): the full hash is in the title.
      onCopied(`The hash could not be copied: it is ${hash}.`);
    }
  };
  return (
    <span className="content-hash">
      <code title={hash} data-hash={hash}>
        {shortHash(hash)}
      </code>
      <button
        type="button"
        className="button button-quiet button-small"
        onClick={() => void copy()}
      >
        Copy<span className="visually-hidden"> the content hash of {versionId}</span>
      </button>
    </span>
  );
}

/**
 * A template's versions, newest first: id, date, content hash, source and size, and a link to the
 * runs each would change.
 */
export function VersionsTable({
  templateName,
  versions,
  latestId,
}: {
  templateName: string;
  versions: VersionSummary[];
  latestId: string | null;
}) {
  const [copyMessage, setCopyMessage] = useState('');
  return (
    <>
      <div className="table-wrap">
        <table className="data-table versions-table">
          <caption>Versions, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Submitted</th>
              <th scope="col">Content hash</th>
              <th scope="col">Source</th>
              <th scope="col">Runs</th>
            </tr>
          </thead>
          <tbody>
            {versions.map((version) => (
              <tr key={version.workflow_version_id} data-version-id={version.workflow_version_id}>
                <th scope="row">
                  <code className="version-id">{version.workflow_version_id}</code>
                  {version.workflow_version_id === latestId && (
                    <>
                      {' '}
                      <span className="badge">latest</span>
                    </>
                  )}
                </th>
                <td>
                  <time dateTime={version.created_at}>{formatDateTime(version.created_at)}</time>
                </td>
                <td>
                  <ContentHash
                    hash={version.content_hash}
                    versionId={version.workflow_version_id}
                    onCopied={setCopyMessage}
                  />
                </td>
                <td>
                  {version.source_type === 'zip' ? 'Zip bundle' : 'JSON'},{' '}
                  {formatBytes(version.size)}
                </td>
                <td>
                  <Link to={impactPath(templateName, version.workflow_version_id)}>
                    Runs this version would change
                    <span className="visually-hidden"> ({version.workflow_version_id})</span>
                  </Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p role="status" className="copy-status field-help">
        {copyMessage}
      </p>
    </>
  );
}
