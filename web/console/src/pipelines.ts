// Pipelines: the list, a pipeline's DAG drawn with each node's state (from
// GET /v1/pipelines/NAME, then the pipeline.* events), a pasted manifest's
// plan before it is applied, the revisions and rollback.
import { html } from 'htm/preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { api, list } from './api';
import { AppCtx, ConfirmButton, ErrorBox, fmtTime } from './ui';

export function PipelinesList() {
  const { can } = useContext(AppCtx);
  const [items, setItems] = useState<any[] | null>(null);
  const [error, setError] = useState<any>(null);
  const [creating, setCreating] = useState(false);
  useEffect(() => {
    list('/v1/pipelines').then(setItems, setError);
  }, []);
  return html`<section aria-labelledby="h-pipelines">
    <div class="head">
      <h1 id="h-pipelines">Pipelines</h1>
      ${can('live_inputs:write') && !creating && html`<button type="button" onClick=${() => setCreating(true)}>New pipeline</button>`}
    </div>
    <${ErrorBox} error=${error} />
    ${creating && html`<${ManifestEditor} onApplied=${(name: string) => (location.hash = '#/pipelines/' + name)} onCancel=${() => setCreating(false)} />`}
    ${items === null ? html`<p>Loading…</p>` : items.length === 0 ? html`<p>No pipelines: live inputs run the default graph of their settings.</p>` : html`
    <div class="table-wrap"><table>
      <thead><tr><th scope="col">Pipeline</th><th scope="col">Generation</th><th scope="col">Nodes</th><th scope="col">Updated</th></tr></thead>
      <tbody>${items.map((p) => html`<tr key=${p.name} data-name=${p.name}>
        <td><a href=${'#/pipelines/' + p.name}>${p.name}</a></td>
        <td>${p.generation}</td>
        <td>${p.manifest?.spec?.nodes?.length ?? '–'}</td>
        <td>${fmtTime(p.updated_at)}</td>
      </tr>`)}</tbody>
    </table></div>`}
  </section>`;
}

const TEMPLATE = `api_version: mpegflow.io/v1
kind: Pipeline
metadata: {name: my-pipeline}
spec:
  nodes:
  - {id: cam, type: source.live, config: {live_input: li_...}}
  - {id: hls, type: package.llhls, inputs: [cam]}
`;

// manifestName finds metadata.name in a YAML or JSON manifest (the path of
// the plan and apply requests must name it).
function manifestName(text: string): string {
  try {
    return JSON.parse(text).metadata.name || '';
  } catch {
    const m = /metadata:\s*(?:\{[^}]*?\bname:\s*["']?([\w.-]+)|\n(?:[ \t]+.*\n)*?[ \t]+name:\s*["']?([\w.-]+))/.exec(text);
    return m ? m[1] || m[2] : '';
  }
}

// ManifestEditor takes a pasted manifest, shows its plan (POST .../plan),
// then applies it (PUT) once the plan was seen.
function ManifestEditor({ initial, onApplied, onCancel }: { initial?: string; onApplied: (name: string) => void; onCancel: () => void }) {
  const [text, setText] = useState(initial || TEMPLATE);
  const [plan, setPlan] = useState<any>(null);
  const [error, setError] = useState<any>(null);
  const [busy, setBusy] = useState(false);
  const type = text.trim().startsWith('{') ? 'application/json' : 'application/yaml';
  const call = async (method: string, suffix: string) => {
    const name = manifestName(text);
    if (!name) throw new Error('the manifest has no metadata.name');
    return [name, await api(method, '/v1/pipelines/' + encodeURIComponent(name) + suffix, text, type)];
  };
  const run = async (f: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await f();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="panel" aria-label="Manifest" onSubmit=${(e: Event) => {
    e.preventDefault();
    run(async () => setPlan((await call('POST', '/plan'))[1]));
  }}>
    <label for="manifest">Manifest (YAML or JSON)</label>
    <textarea id="manifest" class="mono" rows="12" spellcheck="false" value=${text} onInput=${(e: any) => {
      setText(e.target.value);
      setPlan(null);
    }}></textarea>
    ${error && html`<div class="error" role="alert"><p>${error.message}</p>
      ${error.details?.errors && html`<ul>${error.details.errors.map((x: any) => html`<li>${x.path}${x.line ? ' (line ' + x.line + ')' : ''}: ${x.message}</li>`)}</ul>`}</div>`}
    ${plan && html`<div class="plan" aria-labelledby="h-plan">
      <h3 id="h-plan">Plan</h3>
      ${!plan.changed ? html`<p data-plan="unchanged">No change: this is the stored manifest.</p>` : html`
      <ul class="changes">${plan.plan.changes.map((c: any) => html`<li data-action=${c.action} data-impact=${c.impact}>
        <strong>${c.action}</strong> ${c.node} <span class="muted">(${c.type})</span>
        ${c.fields?.length > 0 && html` · ${c.fields.join(', ')}`}
        <span class=${'tag' + (c.impact === 'restart' ? ' warn' : '')}>${c.impact}</span>
        ${c.restarts?.length > 0 && html` · restarts ${c.restarts.join(', ')}`}
      </li>`)}</ul>
      ${plan.plan.metadata_changed && html`<p class="muted">Metadata changes.</p>`}`}
    </div>`}
    <div class="actions">
      <button type="submit" class=${plan ? 'ghost' : ''} disabled=${busy}>Plan</button>
      <button type="button" disabled=${busy || !plan || !plan.changed} onClick=${() => run(async () => {
        const [name] = await call('PUT', '');
        onApplied(name);
      })}>Apply</button>
      <button type="button" class="ghost" onClick=${onCancel}>Cancel</button>
    </div>
  </form>`;
}

// dependencies of a node: its media inputs ("ladder.360p" reads node
// ladder) and, dashed, the nodes whose events it waits on ("rec.ready").
function deps(n: any, ids: Set<string>): { from: string; event: boolean }[] {
  const node = (ref: string) => (ids.has(ref) ? ref : ref.split('.')[0]);
  return [
    ...(n.inputs || []).map((r: string) => ({ from: node(r), event: false })),
    ...(n.on || []).map((r: string) => ({ from: node(r), event: true })),
  ].filter((d) => ids.has(d.from));
}

// nodeState picks the state a node is drawn with when several live inputs
// run it: a failing one first.
function nodeState(all: any[]): any {
  return all.find((s) => s.state === 'errored') || all.find((s) => s.state === 'retrying') || all.find((s) => s.state === 'running') || all[0];
}

// Dag draws the nodes in layers (a node one layer right of its deepest
// dependency) as an SVG, each with its state.
export function Dag({ nodes, status }: { nodes: any[]; status: any[] }) {
  const ids = new Set(nodes.map((n) => n.id));
  const layer: Record<string, number> = {};
  const depth = (id: string, seen: Set<string>): number => {
    if (id in layer) return layer[id];
    if (seen.has(id)) return 0;
    seen.add(id);
    const n = nodes.find((x) => x.id === id);
    const d = Math.max(-1, ...deps(n, ids).map((e) => depth(e.from, seen))) + 1;
    return (layer[id] = d);
  };
  nodes.forEach((n) => depth(n.id, new Set()));
  const rows: Record<number, number> = {};
  const pos: Record<string, [number, number]> = {};
  const W = 170, H = 56, GX = 60, GY = 22;
  for (const n of nodes) {
    const l = layer[n.id];
    const r = (rows[l] = (rows[l] ?? -1) + 1);
    pos[n.id] = [10 + l * (W + GX), 10 + r * (H + GY)];
  }
  const width = 20 + (Math.max(0, ...Object.values(layer)) + 1) * (W + GX) - GX;
  const height = 20 + (Math.max(0, ...Object.values(rows)) + 1) * (H + GY) - GY;
  return html`<div class="dag-wrap"><svg class="dag" viewBox=${`0 0 ${width} ${height}`} width=${width} height=${height} role="img" aria-label="Pipeline graph">
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" class="arrowhead" /></marker></defs>
    ${nodes.flatMap((n) => deps(n, ids).map((d) => {
      const [x1, y1] = pos[d.from], [x2, y2] = pos[n.id];
      const sx = x1 + W, sy = y1 + H / 2, ex = x2, ey = y2 + H / 2, mx = (sx + ex) / 2;
      return html`<path class=${'edge' + (d.event ? ' event' : '')} d=${`M${sx},${sy} C${mx},${sy} ${mx},${ey} ${ex},${ey}`} marker-end="url(#arrow)" />`;
    }))}
    ${nodes.map((n) => {
      const all = status.filter((s) => s.id === n.id);
      const st = all.length ? nodeState(all) : null;
      const state = st ? st.state : 'not running';
      const [x, y] = pos[n.id];
      return html`<g class=${'node state-' + state.replace(/\W/g, '_')} data-node=${n.id} data-state=${state} transform=${`translate(${x},${y})`}>
        <title>${n.id} (${n.type}): ${state}${st?.last_error ? ': ' + st.last_error : ''}${st ? ` · in ${st.counters.in}, out ${st.counters.out}, dropped ${st.counters.dropped}, restarts ${st.restarts}` : ''}</title>
        <rect width=${W} height=${H} rx="6" />
        <text x="10" y="20" class="id">${n.id}</text>
        <text x="10" y="38" class="type">${n.type}</text>
        <text x="10" y="51" class="st">${state.replace(/_/g, ' ')}${all.length > 1 ? ' ×' + all.length : ''}</text>
      </g>`;
    })}
  </svg></div>`;
}

export function PipelineDetail({ name }: { name: string }) {
  const { can, events } = useContext(AppCtx);
  const [p, setP] = useState<any>(null);
  const [revs, setRevs] = useState<any[]>([]);
  const [error, setError] = useState<any>(null);
  const [editing, setEditing] = useState(false);
  const path = '/v1/pipelines/' + encodeURIComponent(name);
  const load = () => {
    api('GET', path).then(setP, setError);
    list(path + '/revisions', 2).then((r) => setRevs(r.sort((a, b) => b.generation - a.generation)), () => {});
  };
  useEffect(() => {
    load();
    // a node's event is drawn at once (replacing that node's entry for its
    // live input, or the placeholder of a graph not running yet); the
    // status is fetched again shortly after, for nodes that changed
    // without an event of their own
    let timer = 0;
    const off1 = events.on((ev) => {
      if (ev.type === 'pipeline.applied' && ev.data?.name === name) load();
      if (ev.type === 'pipeline.node.state_changed' && ev.data?.pipeline === name) {
        const n = ev.data.node;
        setP((cur: any) => {
          if (!cur) return cur;
          const nodes = (cur.nodes || []).filter((x: any) => !(x.id === n.id &&
            ((x.live_input_id || '') === (n.live_input_id || '') || !x.live_input_id || x.state === 'waiting_for_input')));
          return { ...cur, nodes: [...nodes, n] };
        });
        clearTimeout(timer);
        timer = window.setTimeout(() => api('GET', path).then(setP, () => {}), 400);
      }
    });
    const off2 = events.onState((s) => s === 'open' && load());
    return () => {
      clearTimeout(timer);
      off1();
      off2();
    };
  }, [name]);
  if (error && !p) return html`<${ErrorBox} error=${error} />`;
  if (!p) return html`<p>Loading…</p>`;
  const write = can('live_inputs:write');
  const nodes = p.manifest?.spec?.nodes || [];
  return html`<section aria-labelledby="h-pipeline">
    <p><a href="#/pipelines">← Pipelines</a></p>
    <div class="head">
      <h1 id="h-pipeline">${p.name}</h1>
      <span class="tag" data-generation=${p.generation}>generation ${p.generation}</span>
      ${p.observed_generation !== undefined && p.observed_generation !== p.generation && html`<span class="tag warn">running generation ${p.observed_generation}</span>`}
    </div>
    <${ErrorBox} error=${error} />
    ${write && html`<div class="actions">
      <button type="button" class="ghost" aria-expanded=${editing} onClick=${() => setEditing(!editing)}>Edit manifest</button>
      <${ConfirmButton} label="Delete" warning="Delete this pipeline? Its live inputs go back to their default graph." confirmLabel="Delete pipeline"
        onConfirm=${async () => {
          try {
            await api('DELETE', path);
            location.hash = '#/pipelines';
          } catch (e) {
            setError(e);
          }
        }} />
    </div>`}
    ${editing && html`<${ManifestEditor} initial=${JSON.stringify(p.manifest, null, 2)} onApplied=${() => {
      setEditing(false);
      load();
    }} onCancel=${() => setEditing(false)} />`}
    <div class="panel">
      <h2>Graph</h2>
      <${Dag} nodes=${nodes} status=${p.nodes || []} />
      <p class="muted small">Solid: media; dashed: events.</p>
      ${(p.nodes || []).length > 0 && html`<div class="table-wrap"><table class="small" aria-label="Node states">
        <thead><tr><th scope="col">Node</th><th scope="col">Live input</th><th scope="col">State</th><th scope="col">In / out / dropped</th><th scope="col">Restarts</th><th scope="col">Last error</th></tr></thead>
        <tbody>${p.nodes.map((n: any) => html`<tr key=${n.id + '/' + (n.live_input_id || '')} data-node=${n.id} data-state=${n.state}>
          <td>${n.id} <span class="muted">${n.type}</span></td>
          <td>${n.live_input_id ? html`<a href=${'#/inputs/' + n.live_input_id}>${n.live_input_id}</a>` : '–'}</td>
          <td>${n.state.replace(/_/g, ' ')}</td>
          <td>${n.counters ? `${n.counters.in} / ${n.counters.out} / ${n.counters.dropped}` : '–'}</td>
          <td>${n.restarts ?? 0}</td>
          <td class=${n.state === 'errored' ? 'error' : ''}>${n.last_error || '–'}</td>
        </tr>`)}</tbody>
      </table></div>`}
    </div>
    <div class="panel" aria-labelledby="h-revisions">
      <h2 id="h-revisions">Revisions</h2>
      <ul class="revisions">${revs.map((r) => html`<li key=${r.generation} data-generation=${r.generation}>
        generation ${r.generation} · ${fmtTime(r.created_at)} ${r.generation === p.generation ? html`<span class="tag">current</span>` : write && html`
        <${ConfirmButton} label="Roll back" warning=${'Apply generation ' + r.generation + ' again (as a new generation)?'} confirmLabel="Roll back now"
          onConfirm=${async () => {
            try {
              await api('POST', path + '/rollback', { generation: r.generation });
              load();
            } catch (e) {
              setError(e);
            }
          }} />`}
      </li>`)}</ul>
    </div>
  </section>`;
}
