package dev.stepwise.mongo;

import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.bson.Document;
import io.netty.channel.Channel;
import java.util.Set;

/**
 * The H2 (MVStore) backend, committed to its file before a write is acknowledged.
 *
 * <p>On its own, MVStore commits in the background about once a second, so a SIGKILL could lose
 * writes the client was already told had succeeded: a run event, a usage record, an API key. The
 * runner relies on an acknowledged append being there after a crash (that is what makes its side
 * effects exactly-once), so every write command is committed before its answer goes out. A commit
 * writes to the file (the page cache): it survives the process being killed, not a power cut,
 * which is the same promise Redis gives here with {@code appendfsync everysec}.
 */
final class CommittingH2Backend extends H2Backend {
  private static final Set<String> WRITE_COMMANDS =
      Set.of(
          "insert",
          "update",
          "delete",
          "findAndModify",
          "findandmodify",
          "create",
          "createIndexes",
          "drop",
          "dropIndexes",
          "dropDatabase",
          "renameCollection");

  CommittingH2Backend(String fileName) {
    super(fileName);
  }

  /** Every command comes through here, OP_MSG (the Node.js driver's) included. */
  @Override
  public Document handleCommand(
      Channel channel, String databaseName, String command, Document query) {
    Document answer = super.handleCommand(channel, databaseName, command, query);
    if (WRITE_COMMANDS.contains(command)) commit();
    return answer;
  }
}
