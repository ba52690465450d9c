package dev.stepwise.mongo;

import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.backend.memory.MemoryDatabase;
import de.bwaldvogel.mongo.backend.memory.index.MemoryUniqueIndex;
import de.bwaldvogel.mongo.bson.BsonRegularExpression;
import de.bwaldvogel.mongo.bson.Document;
import java.util.Collection;
import java.util.List;

/**
 * The in-memory backend, with unique indexes that serve a query naming every key of the index
 * with a plain value <em>and other conditions besides</em>, as MongoDB's do.
 *
 * <p>The library's unique index answers only a query whose fields are exactly its keys; anything
 * more ({@code {user_id, workflow_run_id, lease_fence, last_seq}}, Stepwise's conditional commit)
 * scans the whole collection, so on the stand-in every commit cost time in proportion to the
 * number of runs stored, which MongoDB never does. Here such a query is looked up by its index keys
 * and the one document found is then matched against the whole query by the library (its
 * {@code matchDocuments}), so the answer is the same as a scan's.
 */
final class IndexedMemoryBackend extends MemoryBackend {
  @Override
  public MemoryDatabase openOrCreateDatabase(String databaseName) {
    return new IndexedMemoryDatabase(databaseName, getCursorRegistry());
  }

  private static final class IndexedMemoryDatabase extends MemoryDatabase {
    IndexedMemoryDatabase(String databaseName, CursorRegistry cursorRegistry) {
      super(databaseName, cursorRegistry);
    }

    @Override
    protected Index<Integer> openOrCreateUniqueIndex(
        String collectionName, String indexName, List<IndexKey> keys, boolean sparse) {
      return new SupersetUniqueIndex(indexName, keys, sparse);
    }
  }

  /** A unique index that also takes queries with more fields than its keys. */
  static final class SupersetUniqueIndex extends MemoryUniqueIndex {
    SupersetUniqueIndex(String name, List<IndexKey> keys, boolean sparse) {
      super(name, keys, sparse);
    }

    @Override
    public synchronized boolean canHandle(Document query) {
      if (super.canHandle(query)) return true;
      Document keysOnly = indexKeysOf(query);
      return keysOnly != null && super.canHandle(keysOnly);
    }

    @Override
    public synchronized Iterable<Integer> getPositions(Document query) {
      if (query.keySet().equals(keySet())) return super.getPositions(query);
      return super.getPositions(indexKeysOf(query));
    }

    /**
     * The part of {@code query} on this index's keys, or null unless every key is there with a
     * plain value (an operator, a sub-document, an array or a regular expression is left to the
     * library's own rules).
     */
    private Document indexKeysOf(Document query) {
      if (query.keySet().size() <= keySet().size()) return null;
      Document keysOnly = new Document();
      for (String key : keys()) {
        if (!query.containsKey(key)) return null;
        Object value = query.get(key);
        if (value instanceof Document
            || value instanceof Collection<?>
            || BsonRegularExpression.isRegularExpression(value)) return null;
        keysOnly.put(key, value);
      }
      return keysOnly;
    }
  }
}
