/**
 * Traces (OpenTelemetry), off by default. The code is instrumented with `@opentelemetry/api` only, whose
 * tracer does nothing until a provider is registered: one trace per run (`ashpipe sync`, a flow run), a
 * span per stream under it, and a span per Ashby request under its stream, with the endpoint and Ashby's
 * `requestId`. {@link startTracing} registers a provider that exports over OTLP/HTTP when
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; the SDK is imported only
 * then, so a process without it loads none of it.
 */
import {
  type Attributes,
  type Context,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { VERSION } from '../version.js';

/** The instrumentation scope of every ashpipe span. */
export const TRACER_NAME = 'ashpipe';

/** Attribute names of ashpipe's spans (OpenTelemetry semantic names where one exists). */
export const ATTR = {
  endpoint: 'ashby.endpoint',
  requestId: 'ashby.request_id',
  errorCode: 'ashby.error_code',
  attempts: 'ashby.attempts',
  httpStatus: 'http.response.status_code',
  stream: 'ashpipe.stream',
  runId: 'ashpipe.run_id',
  flowId: 'ashpipe.flow_id',
  command: 'ashpipe.command',
} as const;

function tracer() {
  return trace.getTracer(TRACER_NAME, VERSION);
}

/**
 * Runs `work` inside a new span (a child of the active one), ends the span when `work` settles and marks
 * it failed when `work` throws. Without a registered provider the span records nothing.
 */
export async function inSpan<T>(
  name: string,
  attributes: Attributes,
  work: (span: Span) => Promise<T>,
  options: { kind?: SpanKind; root?: boolean } = {},
): Promise<T> {
  const parent: Context = options.root ? trace.deleteSpan(context.active()) : context.active();
  const span = tracer().startSpan(
    name,
    { attributes, ...(options.kind !== undefined ? { kind: options.kind } : {}) },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => work(span));
  } catch (error) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : 'error' });
    throw error;
  } finally {
    span.end();
  }
}

/** A span for one Ashby request (all its attempts), a child of the active span. */
export function requestSpan<T>(endpoint: string, work: (span: Span) => Promise<T>): Promise<T> {
  return inSpan(`ashby ${endpoint}`, { [ATTR.endpoint]: endpoint }, work, { kind: SpanKind.CLIENT });
}

/** Whether OTLP export is asked for by the environment. */
export function otlpRequested(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/** Where spans go: the traces endpoint, else `/v1/traces` under the OTLP endpoint (the spec's rule). */
function tracesUrl(env: NodeJS.ProcessEnv): string {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  return `${(env.OTEL_EXPORTER_OTLP_ENDPOINT ?? '').trim().replace(/\/+$/, '')}/v1/traces`;
}

/** A running trace export; {@link TracingHandle.shutdown} flushes the spans not yet sent. */
export interface TracingHandle {
  shutdown(): Promise<void>;
}

/**
 * Registers the global tracer provider that exports over OTLP/HTTP, when the environment asks for it
 * (`OTEL_EXPORTER_OTLP_ENDPOINT`; the exporter reads the other `OTEL_EXPORTER_OTLP_*` variables itself);
 * otherwise does nothing and loads nothing.
 * @example const tracing = await startTracing(process.env, 'ashpipe sync'); … await tracing?.shutdown();
 */
export async function startTracing(
  env: NodeJS.ProcessEnv,
  serviceName = 'ashpipe',
): Promise<TracingHandle | undefined> {
  if (!otlpRequested(env)) return undefined;
  const [{ BasicTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }] =
    await Promise.all([
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
    ]);
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': env.OTEL_SERVICE_NAME?.trim() || serviceName,
      'service.version': VERSION,
    }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl(env) }))],
  });
  await registerProvider(provider);
  return {
    shutdown: async () => {
      await provider.shutdown();
      trace.disable();
    },
  };
}

/**
 * Makes `provider` the global one, with an AsyncLocalStorage context manager so that spans started in
 * concurrent streams find their own parent. Tests register an in-memory exporter this way.
 */
export async function registerProvider(provider: Parameters<typeof trace.setGlobalTracerProvider>[0]) {
  const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
  // The API keeps the first provider set; the last one registered is the one meant.
  trace.disable();
  context.disable();
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
}
