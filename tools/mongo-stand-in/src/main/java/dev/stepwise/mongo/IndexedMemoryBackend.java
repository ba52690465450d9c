package dev.stepwise.mongo;

import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.backend.memory.MemoryDatabase;
import de.bwaldvogel.mongo.backend.memory.index.MemoryUniqueIndex;
import de.bwaldvogel.mongo.bson.BsonRegularExpression;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.backend.KeyValue;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

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

  /**
   * A unique index that also takes queries with more fields than its keys, and queries that name
   * only its first key with a plain value (a run's events by {@code workflow_run_id} on the unique
   * {@code (workflow_run_id, seq)}, a file's chunks by {@code files_id} on {@code (files_id, n)}), as
   * MongoDB's indexes serve a prefix of their keys. The library's indexes answer neither, so every
   * such read scanned the whole collection: a cost that grew with everything stored, which a
   * migration of 10,000 runs made quadratic. Positions found by a prefix are candidates; the
   * library matches each against the whole query, so the answer is the same as a scan's.
   */
  static final class SupersetUniqueIndex extends MemoryUniqueIndex {
    /** The positions of the documents with each value of the first key (for several-key indexes). */
    private final Map<Object, Set<Integer>> byFirstKey = new HashMap<>();

    SupersetUniqueIndex(String name, List<IndexKey> keys, boolean sparse) {
      super(name, keys, sparse);
    }

    private boolean tracksPrefix() {
      return keys().size() > 1;
    }

    @Override
    protected synchronized boolean putKeyPosition(KeyValue key, Integer position) {
      boolean added = super.putKeyPosition(key, position);
      if (added && tracksPrefix())
        byFirstKey.computeIfAbsent(prefixOf(key), k -> new HashSet<>()).add(position);
      return added;
    }

    @Override
    protected synchronized Integer removeDocument(KeyValue key) {
      Integer position = super.removeDocument(key);
      if (position != null && tracksPrefix()) {
        Object prefix = prefixOf(key);
        Set<Integer> positions = byFirstKey.get(prefix);
        if (positions != null) {
          positions.remove(position);
          if (positions.isEmpty()) byFirstKey.remove(prefix);
        }
      }
      return position;
    }

    @Override
    public synchronized void drop() {
      super.drop();
      byFirstKey.clear();
    }

    @Override
    public synchronized boolean canHandle(Document query) {
      if (super.canHandle(query)) return true;
      Document keysOnly = indexKeysOf(query);
      if (keysOnly != null && super.canHandle(keysOnly)) return true;
      return firstKeyValueOf(query) != null;
    }

    @Override
    public synchronized Iterable<Integer> getPositions(Document query) {
      if (super.canHandle(query)) return super.getPositions(query);
      Document keysOnly = indexKeysOf(query);
      if (keysOnly != null && super.canHandle(keysOnly)) return super.getPositions(keysOnly);
      Object first = firstKeyValueOf(query);
      Set<Integer> positions = first == null ? null : byFirstKey.get(normalizedValue(first));
      return positions == null ? List.of() : new ArrayList<>(positions);
    }

    /** The first key's value as the index stores it (numbers normalised, as KeyValue does). */
    private static Object prefixOf(KeyValue key) {
      return new KeyValue(key.get(0)).normalized().get(0);
    }

    private static Object normalizedValue(Object value) {
      return new KeyValue(value).normalized().get(0);
    }

    /** The query's plain value for the first key, or null (not a several-key index, or no such value). */
    private Object firstKeyValueOf(Document query) {
      if (!tracksPrefix()) return null;
      String first = keys().get(0);
      if (!query.containsKey(first)) return null;
      Object value = query.get(first);
      if (value == null
          || value instanceof Document
          || value instanceof Collection<?>
          || BsonRegularExpression.isRegularExpression(value)) return null;
      return value;
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
