/** One kind of sensitive data redaction looks for (built-in, keyword-anchored, national IDs, or a custom pattern). */
export interface Detector {
  /** Stable name, used in `redaction.disabled`. */
  name: string;
  /** What the user is told was removed ("an API key"). */
  label: string;
  /** Replaces matches in `text`; returns the new text and how many were replaced. */
  apply(text: string): { text: string; count: number };
}
