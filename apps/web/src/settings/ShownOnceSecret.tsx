import { useEffect, useRef, useState } from 'react';

interface ShownOnceSecretProps {
  /** The input's id (its label points at it). */
  id: string;
  label: string;
  value: string;
  /** The id of the warning that says it is shown only now: the field is described by it. */
  noteId: string;
  /** What it is, in the copy messages and the Copy button's accessible name ("key", "secret"). */
  noun: string;
}

/**
 * A secret shown once (a new API key, a webhook's signing secret): read-only, focused and selected
 * when it appears so that it is read out and ready to copy, with a Copy button; where the
 * clipboard is refused (an insecure origin, a denied permission) the text is selected for Ctrl+C.
 */
export function ShownOnceSecret({ id, label, value, noteId, noun }: ShownOnceSecretProps) {
  const field = useRef<HTMLInputElement>(null);
  const [copyState, setCopyState] = useState<'idle' | 'copied' | 'manual'>('idle');

  const selectAll = () => {
    field.current?.focus();
    field.current?.select();
  };

  // A new secret starts afresh: focused, selected, and not yet copied.
  useEffect(() => {
    selectAll();
    setCopyState('idle');
  }, [value]);

  const copy = async () => {
    try {
      if (!navigator.clipboard) throw new Error('no clipboard');
      await navigator.clipboard.writeText(value);
      setCopyState('copied');
    } catch {
      selectAll();
      setCopyState('manual');
    }
  };

  return (
    <>
      <div className="field">
        <label htmlFor={id}>{label}</label>
        <div className="copy-row">
          <input
            id={id}
            ref={field}
            type="text"
            className="mono"
            readOnly
            value={value}
            onFocus={(event) => event.currentTarget.select()}
            aria-describedby={noteId}
            spellCheck={false}
            autoComplete="off"
          />
          <button type="button" className="button" onClick={() => void copy()}>
            Copy<span className="visually-hidden"> the {noun}</span>
          </button>
        </div>
      </div>
      <div role="status" className="copy-status">
        {copyState === 'copied' && <p className="field-help">Copied to the clipboard.</p>}
        {copyState === 'manual' && (
          <p className="field-help">
            The {noun} could not be copied automatically. It is selected: press Ctrl+C (⌘C on a Mac)
            to copy it.
          </p>
        )}
      </div>
    </>
  );
}
