import { useEffect, useRef, type KeyboardEvent } from 'react';

/**
 * Focus for an inline "are you sure?" (revoke a key, delete a webhook): asking moves focus into
 * the confirmation, on its least destructive choice; cancelling (its button or Escape, unless the
 * action is under way) brings focus back to the button that asked.
 */
export function useConfirmFocus(confirming: boolean, busy: boolean, onCancel: () => void) {
  const cancelButton = useRef<HTMLButtonElement>(null);
  const askButton = useRef<HTMLButtonElement>(null);
  const restoreFocus = useRef(false);

  useEffect(() => {
    if (confirming) cancelButton.current?.focus();
    else if (restoreFocus.current) {
      restoreFocus.current = false;
      askButton.current?.focus();
    }
  }, [confirming]);

  const cancel = () => {
    restoreFocus.current = true;
    onCancel();
  };
  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === 'Escape' && !busy) {
      event.preventDefault();
      cancel();
    }
  };
  return { cancelButton, askButton, cancel, onKeyDown };
}
