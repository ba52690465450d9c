import { useMutation } from '@tanstack/react-query';
import { useId, useState, type ChangeEvent, type DragEvent } from 'react';
import { RefusalNotice } from './RefusalNotice';
import { submitWorkflowFile, type SubmittedVersion } from './upload';

interface WorkflowUploadProps {
  templateName: string;
  onUploaded: (version: SubmittedVersion) => void;
}

/** A workflow of another template, refused here: it cannot be a version of this run. */
class OtherTemplateError extends Error {}

/**
 * A workflow file (.zip bundle or .json) chosen or dropped here is stored as a version of its
 * template on the spot; if it is a version of the run's template, it is the one compared.
 */
export function WorkflowUpload({ templateName, onUploaded }: WorkflowUploadProps) {
  const inputId = useId();
  const [dragging, setDragging] = useState(false);
  const [fileName, setFileName] = useState<string | null>(null);
  const upload = useMutation({
    mutationFn: async (file: File) => {
      const version = await submitWorkflowFile(file);
      if (version.workflow_template_name !== templateName) {
        throw new OtherTemplateError(
          `That file is a workflow of the template ${version.workflow_template_name}, not ${templateName}: it cannot be this run’s version.`,
        );
      }
      return version;
    },
    onSuccess: onUploaded,
  });

  const send = (file: File | undefined) => {
    if (file === undefined || upload.isPending) return;
    setFileName(file.name);
    upload.mutate(file);
  };
  const onChange = (event: ChangeEvent<HTMLInputElement>) => {
    send(event.target.files?.[0]);
    // The same file chosen again (after fixing it on disk) is a new upload.
    event.target.value = '';
  };
  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    send(event.dataTransfer.files[0]);
  };

  return (
    <div
      className={`drop-zone${dragging ? ' drop-zone-active' : ''}`}
      onDragOver={(event) => {
        event.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={onDrop}
    >
      <label htmlFor={inputId} className="upload-label">
        Upload a workflow file (.zip or .json)
      </label>
      <input
        id={inputId}
        className="file-input"
        type="file"
        accept=".zip,.json,application/zip,application/json"
        onChange={onChange}
        disabled={upload.isPending}
      />
      <p className="drop-hint muted">
        Or drop the file here. It is stored as a version of its template.
      </p>
      <div role="status">
        {upload.isPending && <p>Uploading {fileName}…</p>}
        {upload.isSuccess && (
          <p className="notice notice-success">
            {fileName} is version <span className="mono">{upload.data.workflow_version_id}</span>
            {upload.data.created ? ' (new)' : ' (already stored)'}.
          </p>
        )}
      </div>
      {upload.isError && (
        <RefusalNotice error={upload.error} title={`${fileName ?? 'The file'} was not accepted`} />
      )}
    </div>
  );
}
