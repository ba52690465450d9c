package dev.stepwise.mongo;

import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.MongoBackend;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * Serves the MongoDB wire protocol on one port, from memory (tests, CI: fast and isolated) or,
 * with {@code --data-file}, from an H2 MVStore file that keeps the data across restarts (the
 * local stack a person lives with).
 *
 * <p>The library's own version enum tops out at wire version 8, which the MongoDB Node.js driver 7
 * (mongoose 9) refuses; the driver needs 9+. Announcing 6.0 / wire 17 lets it connect. Stepwise
 * only uses features both this server and MongoDB 6+ implement (see docs/architecture.md).
 */
public final class MongoStandIn {
  private static final MongoVersion ANNOUNCED_VERSION =
      new MongoVersion() {
        @Override
        public List<Integer> getVersionArray() {
          return List.of(6, 0, 0);
        }

        @Override
        public int getWireVersion() {
          return 17;
        }
      };

  private MongoStandIn() {}

  public static void main(String[] args) throws InterruptedException {
    String host = "127.0.0.1";
    int port = 27017;
    String dataFile = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--host" -> host = args[++i];
        case "--port" -> port = Integer.parseInt(args[++i]);
        case "--data-file" -> dataFile = args[++i];
        default -> {
          System.err.println("usage: MongoStandIn [--host HOST] [--port PORT] [--data-file PATH]");
          System.exit(2);
        }
      }
    }

    MongoBackend backend =
        dataFile == null
            ? new IndexedMemoryBackend().version(ANNOUNCED_VERSION)
            : new CommittingH2Backend(dataFile).version(ANNOUNCED_VERSION);
    MongoServer server = new MongoServer(backend);
    server.bind(host, port);
    System.out.println(
        "mongo-stand-in listening on "
            + host
            + ":"
            + port
            + (dataFile == null ? " (in memory)" : " (data in " + dataFile + ")"));

    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  server.shutdownNow();
                  stopped.countDown();
                }));
    stopped.await();
  }
}
