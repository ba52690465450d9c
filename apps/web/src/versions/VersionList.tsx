import { useId } from 'react';
import { formatDateTime } from '../util/time';
import { shortHash } from '../templates/queries';
import { sizeText, versionNumbers } from './presenters';
import type { TemplateDetail } from './types';

interface VersionListProps {
  templateName: string;
  pages: TemplateDetail[];
  currentVersionId: string;
  initialVersionId: string;
  chosenVersionId: string | null;
  onChoose: (versionId: string) => void;
  hasMore: boolean;
  loadingMore: boolean;
  onLoadMore: () => void;
}

/**
 * The template's versions as radio buttons, newest first, each with its date and content hash.
 * The run's own version is marked and cannot be chosen: there is nothing to compare it with.
 */
export function VersionList(props: VersionListProps) {
  const { templateName, pages, currentVersionId, initialVersionId, chosenVersionId } = props;
  const name = useId();
  const numbers = versionNumbers(pages);
  const versions = pages.flatMap((page) => page.versions);
  return (
    <fieldset className="options">
      <legend className="resume-legend">
        Versions of <span className="mono">{templateName}</span>, newest first
      </legend>
      <ul className="version-list">
        {versions.map((version) => {
          const id = version.workflow_version_id;
          const current = id === currentVersionId;
          const inputId = `${name}-${id}`;
          return (
            <li
              key={id}
              className={`version-item${current ? ' version-current' : ''}${
                chosenVersionId === id ? ' version-chosen' : ''
              }`}
            >
              <input
                id={inputId}
                type="radio"
                name={name}
                value={id}
                checked={chosenVersionId === id}
                disabled={current}
                onChange={() => props.onChoose(id)}
              />
              <label htmlFor={inputId} className="version-label">
                <span className="version-title">
                  Version {numbers.get(id)}
                  {current && <span className="badge">The run’s current version</span>}
                  {id === initialVersionId && !current && (
                    <span className="badge badge-plain">The run started on it</span>
                  )}
                </span>
                <span className="version-meta">
                  <time dateTime={version.created_at}>{formatDateTime(version.created_at)}</time>
                  {' · '}
                  hash <span className="mono">{shortHash(version.content_hash)}</span>
                  {' · '}
                  {version.source_type === 'zip' ? 'zip bundle' : 'JSON'}, {sizeText(version.size)}
                </span>
                <span className="version-id mono">{id}</span>
              </label>
            </li>
          );
        })}
      </ul>
      {props.hasMore && (
        <div className="actions">
          <button
            type="button"
            className="button"
            onClick={props.onLoadMore}
            disabled={props.loadingMore}
          >
            {props.loadingMore ? 'Loading older versions…' : 'Show older versions'}
          </button>
        </div>
      )}
    </fieldset>
  );
}
