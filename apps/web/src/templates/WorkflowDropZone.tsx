import { useId, useRef, useState, type ChangeEvent, type DragEvent, type ReactNode } from 'react';
import './workflow-drop-zone.css';

interface WorkflowDropZoneProps {
  /** The file input's label. */
  label: string;
  /** Under the input: that a file may be dropped, and what becomes of it. */
  hint: ReactNode;
  disabled: boolean;
  /** The files chosen with the input or dropped on the zone (never none). */
  onFiles: (files: File[]) => void;
  /** What the zone shows of the file sent: its progress and outcome. */
  children?: ReactNode;
}

/**
 * Where a workflow file (.zip bundle or .json) is chosen with the file input or dropped from the
 * desktop, for the Templates page and the Versions page alike.
 */
export function WorkflowDropZone({
  label,
  hint,
  disabled,
  onFiles,
  children,
}: WorkflowDropZoneProps) {
  const inputId = useId();
  const hintId = useId();
  const [dragging, setDragging] = useState(false);
  // Nested elements fire their own enter/leave: count them so the zone stays lit over children.
  const dragDepth = useRef(0);

  const take = (files: FileList | null) => {
    const chosen = files ? [...files] : [];
    if (chosen.length > 0) onFiles(chosen);
  };
  const onChange = (event: ChangeEvent<HTMLInputElement>) => {
    take(event.target.files);
    // The same file chosen again (after fixing it on disk) must fire a change again.
    event.target.value = '';
  };

  const acceptsDrag = (event: DragEvent) => [...event.dataTransfer.types].includes('Files');
  const onDragEnter = (event: DragEvent) => {
    if (!acceptsDrag(event)) return;
    event.preventDefault();
    dragDepth.current += 1;
    setDragging(true);
  };
  const onDragOver = (event: DragEvent) => {
    if (!acceptsDrag(event)) return;
    // Without this the browser opens the file instead of dropping it here.
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
  };
  const onDragLeave = () => {
    dragDepth.current = Math.max(0, dragDepth.current - 1);
    if (dragDepth.current === 0) setDragging(false);
  };
  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    dragDepth.current = 0;
    setDragging(false);
    take(event.dataTransfer.files);
  };

  return (
    <div
      className={`drop-zone${dragging ? ' drop-zone-active' : ''}`}
      role="group"
      aria-label="Drop a workflow file here"
      aria-describedby={hintId}
      onDragEnter={onDragEnter}
      onDragOver={onDragOver}
      onDragLeave={onDragLeave}
      onDrop={onDrop}
    >
      <label htmlFor={inputId} className="workflow-file-label">
        {label}
      </label>
      <input
        id={inputId}
        className="file-input"
        type="file"
        accept=".zip,.json,application/zip,application/json"
        onChange={onChange}
        disabled={disabled}
      />
      <p id={hintId} className="drop-hint">
        {hint}
      </p>
      {children}
    </div>
  );
}
