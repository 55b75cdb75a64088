/** Unix epoch milliseconds with sub-millisecond precision, the log's browser time base. */
export function browserNow(): number {
  return performance.timeOrigin + performance.now();
}
