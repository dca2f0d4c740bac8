/**
 * Emitting the pipeline's metrics by their definitions (core/metrics.ts): a name that is
 * not defined does not compile, its unit comes from the definition, and a point published
 * with dimensions of its own carries exactly the ones its metric declares.
 */
import { METRICS, type DimensionOf, type MetricName } from '../core/metrics.ts';
import { metrics } from './logging.ts';

/** Adds a point to the invocation's metrics, flushed with them (dimensions: the invocation's). */
export function addPoint(name: MetricName, value: number): void {
  metrics.addMetric(name, METRICS[name].unit, value);
}

/** Publishes points at once under their own dimensions (one EMF document). */
export function publishPoints<N extends MetricName>(dimensions: Record<DimensionOf<N>, string>, ...points: readonly (readonly [N, number])[]): void {
  const m = metrics.singleMetric();
  m.addDimensions(dimensions);
  for (const [name, value] of points) m.addMetric(name, METRICS[name].unit, value);
}
