/** Reads a server-sent event stream (the job views' live feed) as a test would watch it. */
import { EventSourceParserStream } from 'eventsource-parser/stream';

export function serverSentEvents(res: Response) {
  const events = res.body?.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream())[Symbol.asyncIterator]();
  return {
    /** The data of the next `event` that passes `test` (earlier ones are skipped). */
    async nextWhere(event: string, test: (data: any) => boolean) {
      for (;;) {
        const next = await events?.next();
        if (!next || next.done) throw new Error(`the stream ended before a matching ${event} event`);
        if (next.value.event === event && test(JSON.parse(next.value.data))) return JSON.parse(next.value.data);
      }
    },
    close: async () => void (await events?.return?.()),
  };
}
