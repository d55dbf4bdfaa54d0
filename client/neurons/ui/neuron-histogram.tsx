/**
 * The neuron's activation histogram over the corpus: bars coloured by the clouds' scale at the
 * bin's middle, heights by log(1 + count), zero marked, and a white tick where the neuron's
 * activation at the shown token of the current prompt falls (dashed at the edge, with its value,
 * when it lies beyond everything the corpus showed).
 */
import type { NeuronHistogram as Histogram } from '../../../shared/neuron-index.js';
import { activationCss } from '../../scene/colour-scale.js';
import { formatActivation, formatCount, histogramBars, histogramX } from '../state/neuron-format.js';

const width = 360;
const height = 42;
const axis = 14;

export function NeuronHistogram({ histogram, here }: { histogram: Histogram; here: number | null }) {
  const bars = histogramBars(histogram, width, height - 2);
  const low = histogram.edges[0] ?? 0;
  const high = histogram.edges[histogram.edges.length - 1] ?? 0;
  const range = Math.max(Math.abs(low), Math.abs(high), 1e-6);
  const zeroX = histogramX(histogram, width, 0);
  const outside = here !== null && (here < low || here > high);
  const hereX = here === null ? null : outside ? (here < low ? 1 : width - 1) : histogramX(histogram, width, here);
  return (
    <svg
      className="neuron-histogram"
      data-testid="neuron-histogram"
      data-bins={bars.length}
      viewBox={`0 0 ${width} ${height + axis}`}
      width="100%"
      role="img"
      aria-label="activation histogram over the corpus (log count)"
    >
      {bars.map((bar, i) => (
        <rect key={i} x={bar.x} y={height - bar.height} width={Math.max(0.6, bar.width - 0.4)} height={bar.height} fill={activationCss(bar.centre, range)}>
          <title>{`${formatActivation(bar.from)} … ${formatActivation(bar.to)}: ${formatCount(bar.count)} tokens`}</title>
        </rect>
      ))}
      <line x1={0} x2={width} y1={height + 0.5} y2={height + 0.5} stroke="#3a4050" />
      {zeroX !== null && <line x1={zeroX} x2={zeroX} y1={0} y2={height + 3} stroke="#6a7080" strokeDasharray="2 2" />}
      {hereX !== null && (
        <g data-testid="histogram-here" data-outside={outside}>
          <line x1={hereX} x2={hereX} y1={0} y2={height} stroke="#ffffff" strokeWidth={1.5} strokeDasharray={outside ? '3 2' : undefined} />
          {outside && (
            <text x={hereX < width / 2 ? hereX + 3 : hereX - 3} y={9} fontSize={9} fill="#ffffff" textAnchor={hereX < width / 2 ? 'start' : 'end'}>
              {`${here! < low ? '◂' : '▸'} ${formatActivation(here!)}`}
            </text>
          )}
          <title>{`here (current prompt): ${formatActivation(here!)}${outside ? ', beyond the corpus range' : ''}`}</title>
        </g>
      )}
      <text x={0} y={height + axis - 2} fontSize={10} fill="#9aa3b5">{formatActivation(low)}</text>
      {zeroX !== null && zeroX > 30 && zeroX < width - 30 && (
        <text x={zeroX} y={height + axis - 2} fontSize={10} fill="#9aa3b5" textAnchor="middle">0</text>
      )}
      <text x={width} y={height + axis - 2} fontSize={10} fill="#9aa3b5" textAnchor="end">{formatActivation(high)}</text>
    </svg>
  );
}
