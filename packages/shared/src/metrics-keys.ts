/** Redis keys for counters that several processes add to and the gateway reports. */
export function eventsAppendedKey(queuePrefix: string): string {
  return `${queuePrefix}:metrics:events_appended`;
}
