/**
 * The service's Prometheus metrics (prom-client, on a registry of its own so two apps in one
 * process, as in tests, do not share counters): requests by route and status, latency, queue
 * depth and batch sizes per model, images scored by verdict, and prom-client's process metrics
 * (memory, event-loop lag) for watching a long run.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ServiceMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'vigil_http_requests_total', help: 'HTTP requests answered, by route, method and status code',
    labelNames: ['route', 'method', 'status'] as const, registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'vigil_http_request_duration_seconds', help: 'Time from request to response, by route',
    labelNames: ['route'] as const, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'vigil_queue_depth', help: 'Images waiting to be scored, by model', labelNames: ['model'] as const, registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'vigil_batch_size', help: 'Images per scored batch, by model', labelNames: ['model'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64], registers: [this.registry],
  });
  readonly batchSeconds = new Histogram({
    name: 'vigil_batch_duration_seconds', help: 'Time to score one batch, by model', labelNames: ['model'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [this.registry],
  });
  readonly images = new Counter({
    name: 'vigil_images_scored_total', help: 'Images scored, by model and verdict', labelNames: ['model', 'verdict'] as const, registers: [this.registry],
  });

  constructor(processMetrics = true) {
    if (processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'vigil_' });
  }
}
