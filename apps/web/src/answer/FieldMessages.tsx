/** A field's help and its problems, under one id for the input's aria-describedby. */
export function FieldMessages({
  id,
  help,
  problems,
}: {
  id: string;
  help?: string | null | undefined;
  problems: string[];
}) {
  if (!help && problems.length === 0) return null;
  return (
    <div id={id} className="field-messages">
      {help && <p className="field-help">{help}</p>}
      {problems.map((problem) => (
        <p key={problem} className="field-error">
          {problem}
        </p>
      ))}
    </div>
  );
}
