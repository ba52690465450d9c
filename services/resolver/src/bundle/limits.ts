export interface BundleLimits {
  /** Most entries a zip may hold, junk included. */
  maxEntries: number;
  /** Most bytes the files that count may unpack to, and most bytes `$ref` expansion may produce. */
  maxUncompressedBytes: number;
  /** Highest ratio of unpacked bytes to the archive's size before it counts as a zip bomb. */
  maxCompressionRatio: number;
}
