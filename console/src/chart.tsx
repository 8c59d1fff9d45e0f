// Charts through Chart.js (canvas; only the parts used are registered, so the bundle carries bars and
// lines alone). Every chart has a text alternative: the canvas is labelled, and the page keeps the
// same figures in a table beside it for screen readers and copying.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';
import { useEffect, useRef } from 'preact/hooks';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Tooltip, Legend);
Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
Chart.defaults.color = '#1b1f24';

/** A chart of `config`, redrawn in place when `config` changes; `label` describes it to assistive technology. */
export function ChartView({ config, label, height = 260 }: { config: ChartConfiguration; label: string; height?: number }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart | null>(null);
  useEffect(() => {
    if (!canvas.current) return;
    if (chart.current) {
      chart.current.data = config.data;
      if (config.options) chart.current.options = config.options;
      chart.current.update('none');
      return;
    }
    chart.current = new Chart(canvas.current, {
      ...config,
      options: { maintainAspectRatio: false, animation: false, ...config.options },
    });
  }, [config]);
  useEffect(() => () => chart.current?.destroy(), []);
  return (
    <div class="chart" style={{ height: `${height}px` }}>
      <canvas ref={canvas} role="img" aria-label={label} />
    </div>
  );
}
