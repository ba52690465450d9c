import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiError } from '../api/client';
import { submitWorkflowFile, type SubmittedVersion } from '../api/workflow-submission';
import { WorkflowDropZone } from '../templates/WorkflowDropZone';
import { RefusalNotice } from './RefusalNotice';

interface WorkflowUploadProps {
  templateName: string;
  onUploaded: (version: SubmittedVersion) => void;
}

/**
 * A workflow file (.zip bundle or .json) chosen or dropped here is stored on the spot as a version
 * of the run's template, and it is the one compared. The gateway stores nothing else: a workflow
 * of another template is refused (409 CONFLICT, its problem at `workflow_id`).
 */
export function WorkflowUpload({ templateName, onUploaded }: WorkflowUploadProps) {
  const [fileName, setFileName] = useState<string | null>(null);
  const upload = useMutation({
    // The gateway stores it only if it is a version of the run's template (409 otherwise).
    mutationFn: (file: File) => submitWorkflowFile(file, { template: templateName }),
    onSuccess: onUploaded,
  });

  const send = ([file]: File[]) => {
    if (file === undefined || upload.isPending) return;
    setFileName(file.name);
    upload.mutate(file);
  };

  return (
    <WorkflowDropZone
      label="Upload a workflow file (.zip or .json)"
      hint="Or drop the file here. It is stored as a new version of this run’s template."
      disabled={upload.isPending}
      onFiles={send}
    >
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
        <RefusalNotice
          error={upload.error}
          title={
            upload.error instanceof ApiError && upload.error.code === 'CONFLICT'
              ? `${fileName ?? 'The file'} is not a version of ${templateName}: nothing was stored`
              : `${fileName ?? 'The file'} was not accepted`
          }
        />
      )}
    </WorkflowDropZone>
  );
}
