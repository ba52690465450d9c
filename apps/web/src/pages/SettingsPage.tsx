import { ApiKeysSection } from '../settings/ApiKeysSection';
import { PasswordSection } from '../settings/PasswordSection';
import { WebhooksSection } from '../settings/WebhooksSection';
import { useDocumentTitle } from '../util/title';

/** The signed-in person's own settings: API keys for their programs, webhooks, their password. */
export default function SettingsPage() {
  useDocumentTitle('Settings');
  return (
    <section className="page settings-page" aria-labelledby="settings-heading">
      <h1 id="settings-heading">Settings</h1>
      <ApiKeysSection />
      <WebhooksSection />
      <PasswordSection />
    </section>
  );
}
