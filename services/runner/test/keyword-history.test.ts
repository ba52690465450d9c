import { describe, expect, it } from 'vitest';
import { KeywordHistoryStore } from '../src/history/keyword-history.js';
import { useTestDatabases } from '../../../test/support/databases.js';

/** Shared history counts once per attempt (effects.md, rule 5), on the real MongoDB wire server. */
const db = await useTestDatabases('keyword-history');
const scope = { workflow_template_id: 'tpl_x', step_id: 's', module_name: 'm' };

describe('keyword weights keyed by the attempt', () => {
  it('adds an attempt’s weights once however often it is saved, and every new attempt’s', async () => {
    const store = new KeywordHistoryStore(db.models);
    const entries = [
      { keyword: 'Cats', weight: 2, category: null },
      { keyword: 'dogs', weight: 1, category: null },
    ];
    await store.save(scope, entries, 'generated', 5, 'run_a:7');
    // The same attempt again (a recovered drain runs it again with the same key).
    await store.save(scope, entries, 'generated', 5, 'run_a:7');
    await Promise.all([
      store.save(scope, entries, 'generated', 5, 'run_a:7'),
      store.save(scope, entries, 'generated', 5, 'run_a:7'),
    ]);
    const weights = async () =>
      Object.fromEntries(
        (await db.models.keywordHistory.find(scope).lean()).map((k) => [k.keyword, k.total_weight]),
      );
    expect(await weights()).toEqual({ cats: 2, dogs: 1 });
    await store.save(scope, entries, 'generated', 5, 'run_b:9');
    expect(await weights()).toEqual({ cats: 4, dogs: 2 });
  });
});
