/** Requests, retries and 429s per endpoint, fed by the client's `onEvent`. */
export interface EndpointCounts {
  requests: number;
  retries: number;
  rateLimited: number;
}

/** Counts client events by endpoint so the summary can say what each stream cost. */
export class EndpointCounters {
  private readonly counts = new Map<string, EndpointCounts>();

  /** Pass as the client's `onEvent`. Accepts any event with a `type` and an `endpoint`. */
  readonly onEvent = (event: { type: string; endpoint?: string }): void => {
    if (!event.endpoint) return;
    const c = this.entry(event.endpoint);
    if (event.type === 'request') c.requests++;
    else if (event.type === 'retry') c.retries++;
    else if (event.type === 'rateLimited') c.rateLimited++;
  };

  get(endpoint: string): EndpointCounts {
    return { ...this.entry(endpoint) };
  }

  total(): EndpointCounts {
    const t = { requests: 0, retries: 0, rateLimited: 0 };
    for (const c of this.counts.values()) {
      t.requests += c.requests;
      t.retries += c.retries;
      t.rateLimited += c.rateLimited;
    }
    return t;
  }

  private entry(endpoint: string): EndpointCounts {
    let c = this.counts.get(endpoint);
    if (!c) {
      c = { requests: 0, retries: 0, rateLimited: 0 };
      this.counts.set(endpoint, c);
    }
    return c;
  }
}
