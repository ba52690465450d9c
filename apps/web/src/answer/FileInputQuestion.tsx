import { useQueryClient } from '@tanstack/react-query';
import {
  useEffect,
  useId,
  useRef,
  useState,
  type ChangeEvent,
  type DragEvent,
  type FormEvent,
} from 'react';
import { uploadFile, type ArtifactView } from '../api/artifacts';
import { ApiError, setCsrfToken } from '../api/client';
import type { FileInputRequest } from '../api/requests';
import { sessionKey } from '../auth/session';
import { describeError } from '../layout/Status';
import { ArtifactImage, OriginalLink } from './ArtifactImage';
import { FieldMessages } from './FieldMessages';
import { formatBytes, mediaKindOf } from './media';
import { problemsAt, type QuestionProps } from './types';

/** One file the person chose, from its upload to its artifact (or the reason it was refused). */
type Entry = { key: number; file: File } & (
  | { status: 'uploading'; loaded: number; total: number; controller: AbortController }
  | { status: 'uploaded'; artifact: ArtifactView }
  /** The file itself was refused (too large, not an accepted type): sending it again is useless. */
  | { status: 'refused'; message: string }
  /** The upload failed on its way (network, server error): it may be tried again. */
  | { status: 'failed'; message: string }
);

/** `image/png` → PNG, `image/*` → any image, `application/pdf` → PDF. */
function typeName(pattern: string): string {
  const [family = '', subtype = ''] = pattern.toLowerCase().split('/');
  if (subtype === '*') return `any ${family === 'application' ? 'file' : family}`;
  const bare = subtype.replace(/^(x-|vnd\.)/, '').replace(/\+.*$/, '');
  return bare.toUpperCase();
}

function acceptedText(accept: readonly string[]): string {
  const names = [...new Set(accept.map(typeName))];
  if (names.length <= 1) return names[0] ?? '';
  return `${names.slice(0, -1).join(', ')} or ${names.at(-1) ?? ''}`;
}

function countText(min: number, max: number): string {
  if (max === 1) return min === 1 ? 'One file' : 'At most one file';
  if (min === max) return `${min} files`;
  if (min <= 0) return `Up to ${max} files`;
  return `${min} to ${max} files`;
}

/** One chosen file: its preview once stored, its progress while uploading, or why it failed. */
function UploadRow({
  entry,
  onRemove,
  onRetry,
}: {
  entry: Entry;
  onRemove: () => void;
  onRetry: () => void;
}) {
  const name = entry.file.name;
  const isImage =
    entry.status === 'uploaded' && mediaKindOf(entry.artifact.content_type) === 'image';
  return (
    <li className={`upload-item upload-${entry.status}`}>
      <div className="upload-thumb">
        {entry.status === 'uploaded' && isImage ? (
          <ArtifactImage
            artifactId={entry.artifact.artifact_id}
            alt={`Preview of ${name}`}
            className="upload-preview"
            previewUrl={entry.artifact.preview_url}
          />
        ) : (
          <span className="upload-icon" aria-hidden="true">
            {(name.split('.').pop() ?? '').slice(0, 4).toUpperCase() || 'FILE'}
          </span>
        )}
      </div>
      <div className="upload-body">
        <p className="upload-name">
          <span className="upload-file-name">{name}</span>{' '}
          <span className="muted">{formatBytes(entry.file.size)}</span>
        </p>
        {entry.status === 'uploading' && (
          <p className="upload-progress">
            <progress
              value={entry.loaded}
              max={entry.total || 1}
              aria-label={`Uploading ${name}`}
            />
            <span className="muted">
              {Math.floor((100 * entry.loaded) / Math.max(entry.total, 1))}%
            </span>
          </p>
        )}
        {entry.status === 'uploaded' && (
          <p className="upload-done">
            Uploaded ({entry.artifact.content_type}).{' '}
            <OriginalLink artifactId={entry.artifact.artifact_id}>
              Open<span className="visually-hidden"> {name}</span>
            </OriginalLink>
          </p>
        )}
        {entry.status === 'refused' && (
          <p className="field-error">
            {name} was not accepted: {entry.message}
          </p>
        )}
        {entry.status === 'failed' && (
          <p className="field-error">
            {name} could not be uploaded: {entry.message}
          </p>
        )}
      </div>
      <div className="upload-actions">
        {entry.status === 'failed' && (
          <button type="button" className="button" onClick={onRetry}>
            Try again<span className="visually-hidden"> to upload {name}</span>
          </button>
        )}
        <button type="button" className="button button-quiet" onClick={onRemove}>
          {entry.status === 'uploading' ? 'Cancel' : 'Remove'}
          <span className="visually-hidden"> {name}</span>
        </button>
      </div>
    </li>
  );
}

/**
 * user.file_input: the person picks files (or drops them here), each is uploaded at once with its
 * progress (`POST /v1/runs/{id}/uploads`), images show their preview, and the answer names the
 * stored artifacts (`{artifact_ids}`). The count and the size are checked here; the type (by the
 * file's bytes) and everything else by the gateway, whose refusal (413, 415) is shown per file.
 */
export function FileInputQuestion({
  runId,
  interactionId,
  request,
  sending,
  problems,
  onAnswer,
}: QuestionProps<FileInputRequest> & { runId: string; interactionId: string }) {
  const id = useId();
  const inputId = `${id}-input`;
  const helpId = `${id}-help`;
  const messagesId = `${id}-messages`;
  const client = useQueryClient();
  const [entries, setEntries] = useState<Entry[]>([]);
  const [dragging, setDragging] = useState(false);
  const [note, setNote] = useState<string | null>(null);
  const [announcement, setAnnouncement] = useState('');
  const nextKey = useRef(0);
  // Uploads still running when the page goes away are cancelled.
  const controllers = useRef(new Map<number, AbortController>());
  useEffect(() => {
    const running = controllers.current;
    return () => {
      for (const controller of running.values()) controller.abort();
    };
  }, []);

  const { max_files: maxFiles, min_files: minFiles, max_bytes: maxBytes } = request;
  const update = (key: number, next: (entry: Entry) => Entry) =>
    setEntries((current) => current.map((entry) => (entry.key === key ? next(entry) : entry)));

  const start = (key: number, file: File) => {
    const controller = new AbortController();
    controllers.current.set(key, controller);
    const uploading: Entry = {
      key,
      file,
      status: 'uploading',
      loaded: 0,
      total: file.size,
      controller,
    };
    setEntries((current) =>
      current.some((entry) => entry.key === key)
        ? current.map((entry) => (entry.key === key ? uploading : entry))
        : [...current, uploading],
    );
    uploadFile(runId, interactionId, file, {
      signal: controller.signal,
      onProgress: (loaded, total) =>
        update(key, (entry) =>
          entry.status === 'uploading' ? { ...entry, loaded, total } : entry,
        ),
    })
      .then((artifact) => {
        update(key, () => ({ key, file, status: 'uploaded', artifact }));
        setAnnouncement(`${file.name} uploaded.`);
      })
      .catch((error: unknown) => {
        // Cancelled by the person (or by leaving the page): the entry is gone already.
        if (error instanceof DOMException && error.name === 'AbortError') return;
        if (error instanceof ApiError && error.status === 401) {
          // The session ended: the app goes to sign-in, as for any other request.
          setCsrfToken(null);
          client.setQueryData(sessionKey, null);
          return;
        }
        const refused =
          error instanceof ApiError && [400, 409, 413, 415, 422].includes(error.status);
        const message = describeError(error);
        update(key, () => ({ key, file, status: refused ? 'refused' : 'failed', message }));
        setAnnouncement(
          refused
            ? `${file.name} was not accepted: ${message}`
            : `${file.name} could not be uploaded: ${message}`,
        );
      })
      .finally(() => controllers.current.delete(key));
  };

  const remove = (key: number) => {
    controllers.current.get(key)?.abort();
    setEntries((current) => current.filter((entry) => entry.key !== key));
    setNote(null);
  };

  const addFiles = (files: readonly File[]) => {
    if (files.length === 0 || sending) return;
    setNote(null);
    let kept = entries;
    if (maxFiles === 1) {
      // One file: a new choice replaces the previous one.
      for (const entry of entries) controllers.current.get(entry.key)?.abort();
      kept = [];
      setEntries([]);
    }
    let room =
      maxFiles -
      kept.filter((entry) => entry.status === 'uploading' || entry.status === 'uploaded').length;
    let leftOut = 0;
    for (const file of files) {
      const key = nextKey.current++;
      if (file.size > maxBytes) {
        const [size, limit] = [formatBytes(file.size), formatBytes(maxBytes)];
        const message =
          size === limit
            ? `it is ${file.size} bytes, and a file may be at most ${maxBytes} bytes.`
            : `it is ${size}, and a file may be at most ${limit}.`;
        setEntries((current) => [...current, { key, file, status: 'refused', message }]);
        setAnnouncement(`${file.name} was not accepted: ${message}`);
      } else if (room <= 0) {
        leftOut += 1;
      } else {
        room -= 1;
        start(key, file);
      }
    }
    if (leftOut > 0)
      setNote(
        `At most ${maxFiles} ${maxFiles === 1 ? 'file' : 'files'} can be sent: ${leftOut} left out. Remove one to add another.`,
      );
  };

  const onChange = (event: ChangeEvent<HTMLInputElement>) => {
    addFiles([...(event.target.files ?? [])]);
    // The same file may be chosen again after removing it.
    event.target.value = '';
  };
  const onDragOver = (event: DragEvent<HTMLDivElement>) => {
    if (!event.dataTransfer.types.includes('Files')) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
    setDragging(true);
  };
  const onDragLeave = (event: DragEvent<HTMLDivElement>) => {
    if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setDragging(false);
  };
  const onDrop = (event: DragEvent<HTMLDivElement>) => {
    event.preventDefault();
    setDragging(false);
    addFiles([...event.dataTransfer.files]);
  };

  const uploaded = entries.flatMap((entry) => (entry.status === 'uploaded' ? [entry] : []));
  const busy = entries.some((entry) => entry.status === 'uploading');
  const countOk = uploaded.length >= minFiles && uploaded.length <= maxFiles;
  const help = `${countText(minFiles, maxFiles)}, at most ${formatBytes(maxBytes)} each. Accepted: ${acceptedText(request.accept)}.`;
  const shownProblems = [
    ...(note ? [note] : []),
    ...(uploaded.length > maxFiles ? [`That is ${uploaded.length - maxFiles} too many.`] : []),
    ...problemsAt(problems, 'response.artifact_ids'),
  ];
  const status = busy
    ? 'Uploading…'
    : uploaded.length < minFiles
      ? `${uploaded.length} of ${minFiles} uploaded.`
      : null;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!countOk || busy || sending) return;
    onAnswer({ artifact_ids: uploaded.map((entry) => entry.artifact.artifact_id) });
  };

  return (
    <form onSubmit={submit} className="stack">
      <div
        className={dragging ? 'drop-zone drop-zone-active' : 'drop-zone'}
        onDragEnter={onDragOver}
        onDragOver={onDragOver}
        onDragLeave={onDragLeave}
        onDrop={onDrop}
      >
        <label htmlFor={inputId} className="question-prompt">
          {request.prompt}
        </label>
        <p id={helpId} className="field-help">
          {help}
        </p>
        <input
          id={inputId}
          className="file-input"
          type="file"
          accept={request.accept.join(',')}
          multiple={maxFiles > 1}
          onChange={onChange}
          disabled={sending}
          aria-describedby={shownProblems.length > 0 ? `${helpId} ${messagesId}` : helpId}
        />
        <p className="drop-hint" aria-hidden="true">
          {dragging
            ? 'Drop to upload'
            : maxFiles > 1
              ? 'or drop files here'
              : 'or drop a file here'}
        </p>
      </div>
      {entries.length > 0 && (
        <ul className="upload-list" aria-label="Chosen files">
          {entries.map((entry) => (
            <UploadRow
              key={entry.key}
              entry={entry}
              onRemove={() => remove(entry.key)}
              onRetry={() => start(entry.key, entry.file)}
            />
          ))}
        </ul>
      )}
      <p className="visually-hidden" role="status">
        {announcement}
      </p>
      <FieldMessages id={messagesId} help={status} problems={shownProblems} />
      <div className="actions">
        <button
          type="submit"
          className="button button-primary"
          disabled={!countOk || busy || sending}
        >
          {sending
            ? 'Sending…'
            : uploaded.length === 0
              ? minFiles === 0
                ? 'Continue without a file'
                : maxFiles === 1
                  ? 'Send file'
                  : 'Send files'
              : uploaded.length === 1
                ? 'Send file'
                : `Send ${uploaded.length} files`}
        </button>
      </div>
    </form>
  );
}
