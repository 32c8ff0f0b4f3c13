/**
 * SVG charts rendered with Vega (a plain Vega spec: vega-lite needs Node 22) in headless mode.
 * One chart shape covers the bench's needs: two stacked line panels sharing the x axis, one
 * line per series (client), with labelled vertical rules (fault, +switch-master, ...).
 */
import * as vega from 'vega';
import type { FailoverResult } from './failover.js';
import type { SoakResult } from './soak.js';

export interface SeriesPoint {
  x: number;
  series: string;
  value: number;
}

export interface ChartPanel {
  title: string;
  points: SeriesPoint[];
  /** Upper end of the y axis; larger values are drawn at the top edge (clamped). */
  maxY?: number;
}

export interface ChartRule {
  x: number;
  label: string;
}

export interface TwoPanelChart {
  title: string;
  subtitle?: string;
  xTitle: string;
  series: string[];
  top: ChartPanel;
  bottom: ChartPanel;
  rules: ChartRule[];
}

const WIDTH = 760;
const PANEL_HEIGHT = 220;
const GAP = 48;

function panelGroup(name: string, panel: ChartPanel, y: number, showXLabels: boolean): vega.GroupMark {
  const yScale = `${name}_y`;
  return {
    type: 'group',
    name: `${name}_panel`,
    encode: {
      enter: { x: { value: 0 }, y: { value: y }, width: { value: WIDTH }, height: { value: PANEL_HEIGHT } },
    },
    scales: [
      {
        name: yScale,
        type: 'linear',
        domain: panel.maxY === undefined ? { data: name, field: 'value' } : [0, panel.maxY],
        range: [PANEL_HEIGHT, 0],
        nice: panel.maxY === undefined,
        zero: true,
        clamp: panel.maxY !== undefined,
      },
    ],
    axes: [
      { orient: 'left', scale: yScale, title: panel.title, grid: true, tickCount: 5 },
      { orient: 'bottom', scale: 'x', labels: showXLabels, ...(showXLabels ? { title: '' } : {}) },
    ],
    marks: [
      {
        type: 'rule',
        from: { data: 'rules' },
        encode: {
          enter: {
            x: { scale: 'x', field: 'x' },
            y: { value: 0 },
            y2: { value: PANEL_HEIGHT },
            stroke: { value: '#555' },
            strokeDash: { value: [4, 3] },
            strokeWidth: { value: 1 },
          },
        },
      },
      {
        type: 'group',
        from: { facet: { name: `${name}_series`, data: name, groupby: 'series' } },
        marks: [
          {
            type: 'line',
            from: { data: `${name}_series` },
            sort: { field: 'datum.x' },
            encode: {
              enter: {
                x: { scale: 'x', field: 'x' },
                y: { scale: yScale, field: 'value' },
                stroke: { scale: 'color', field: 'series' },
                strokeWidth: { value: 1.5 },
                interpolate: { value: 'linear' },
              },
            },
          },
        ],
      },
    ],
  };
}

/** Render the chart to an SVG string. */
export async function renderTwoPanelChart(chart: TwoPanelChart): Promise<string> {
  const xs = [...chart.top.points, ...chart.bottom.points].map((p) => p.x);
  const maxX = Math.max(1, ...xs, ...chart.rules.map((r) => r.x));
  const spec: vega.Spec = {
    $schema: 'https://vega.github.io/schema/vega/v6.json',
    width: WIDTH,
    height: PANEL_HEIGHT * 2 + GAP,
    padding: 12,
    autosize: 'pad',
    background: 'white',
    title: { text: chart.title, ...(chart.subtitle ? { subtitle: chart.subtitle } : {}), anchor: 'start' },
    data: [
      { name: 'top', values: chart.top.points },
      { name: 'bottom', values: chart.bottom.points },
      // Rules close together (+odown and +switch-master are often < 1 s apart): labels on staggered rows.
      { name: 'rules', values: chart.rules.map((r, i) => ({ ...r, row: i % 3 })) },
    ],
    scales: [
      { name: 'x', type: 'linear', domain: [0, maxX], range: [0, WIDTH], zero: true },
      { name: 'color', type: 'ordinal', domain: chart.series, range: 'category' },
    ],
    legends: [{ stroke: 'color', title: 'client', orient: 'right', symbolType: 'stroke' }],
    marks: [
      panelGroup('top', chart.top, 0, false),
      panelGroup('bottom', chart.bottom, PANEL_HEIGHT + GAP, true),
      {
        type: 'text',
        from: { data: 'rules' },
        encode: {
          enter: {
            x: { scale: 'x', field: 'x', offset: 3 },
            y: { field: 'row', mult: 12, offset: 10 },
            text: { field: 'label' },
            fontSize: { value: 10 },
            fill: { value: '#333' },
            angle: { value: 0 },
          },
        },
      },
      {
        type: 'text',
        encode: {
          enter: {
            x: { value: WIDTH / 2 },
            y: { value: PANEL_HEIGHT * 2 + GAP + 34 },
            text: { value: chart.xTitle },
            align: { value: 'center' },
            fontSize: { value: 11 },
            fontWeight: { value: 'bold' },
          },
        },
      },
    ],
  };
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Successes/s and errors/s per client over time, fault and sentinel events marked. */
export function failoverChart(result: FailoverResult): Promise<string> {
  const perSecond = 1000 / result.bucketMs;
  const top: SeriesPoint[] = [];
  const bottom: SeriesPoint[] = [];
  for (const client of result.clients) {
    client.buckets.successes.forEach((n, i) => {
      top.push({ x: (i * result.bucketMs) / 1000, series: client.client, value: n * perSecond });
    });
    client.buckets.errors.forEach((n, i) => {
      bottom.push({ x: (i * result.bucketMs) / 1000, series: client.client, value: n * perSecond });
    });
  }
  const m = result.marks;
  const rules: ChartRule[] = [{ x: m.faultMs / 1000, label: result.fault }];
  if (m.odownMs !== undefined) rules.push({ x: m.odownMs / 1000, label: '+odown' });
  if (m.switchMs !== undefined) rules.push({ x: m.switchMs / 1000, label: '+switch-master' });
  if (m.resumeMs !== undefined)
    rules.push({ x: m.resumeMs / 1000, label: result.fault === 'kill' ? 'restart' : 'resume' });
  return renderTwoPanelChart({
    title: `Failover timeline: ${result.fault} the master`,
    subtitle: `${result.ratePerClient} ops/s offered per client (50% writes), ${result.bucketMs} ms buckets, down-after ${result.downAfterMs} ms`,
    xTitle: 'seconds since the load started',
    series: result.clients.map((c) => c.client),
    // Operations that hung through the outage all complete in the same bucket when the node
    // comes back; unclamped, that one spike would flatten everything else.
    top: {
      title: `successes/s (clipped at ${3 * result.ratePerClient})`,
      points: top,
      maxY: 3 * result.ratePerClient,
    },
    bottom: { title: 'errors/s', points: bottom },
    rules,
  });
}

/** RSS and event-loop delay p99 over time, one line per soaked client. */
export function soakChart(results: SoakResult[]): Promise<string> {
  const top: SeriesPoint[] = [];
  const bottom: SeriesPoint[] = [];
  for (const r of results) {
    for (const s of r.samples) {
      top.push({ x: s.tMs / 1000, series: r.client, value: s.rssMb });
      bottom.push({ x: s.tMs / 1000, series: r.client, value: s.eventLoopDelayP99Ms });
    }
  }
  const first = results[0];
  return renderTwoPanelChart({
    title: 'Soak: memory and event-loop delay under steady load',
    ...(first
      ? {
          subtitle: `${first.ratePerSec} ops/s offered, ${Math.round(first.readRatio * 100)}% GET, ${first.valueSize} B values; clients run one after another`,
        }
      : {}),
    xTitle: 'seconds since this client started',
    series: results.map((r) => r.client),
    top: { title: 'RSS (MB)', points: top },
    bottom: { title: 'event-loop delay p99 (ms)', points: bottom },
    rules: [],
  });
}
