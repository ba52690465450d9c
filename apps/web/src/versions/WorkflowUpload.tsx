import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { submitWorkflowFile, type SubmittedVersion } from '../api/workflow-submission';
import { WorkflowDropZone } from '../templates/WorkflowDropZone';
import { RefusalNotice } from './RefusalNotice';

interface WorkflowUploadProps {
  templateName: string;
  onUploaded: (version: SubmittedVersion) => void;
}

/**
 * A workflow file (.zip bundle or .json) chosen or dropped here is stored as a version of its
 * template on the spot; if it is a version of the run's template, it is the one compared.
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
        <RefusalNotice error={upload.error} title={`${fileName ?? 'The file'} was not accepted`} />
      )}
    </WorkflowDropZone>
  );
}
