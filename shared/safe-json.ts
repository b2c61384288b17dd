/** JSON from outside that may not be JSON at all: undefined rather than a throw, for a schema to judge what came. */
export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
