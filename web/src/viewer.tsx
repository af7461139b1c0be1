/**
 * The study viewer: an instance's pixels (from the PACS through the service) on a canvas with
 * window/level, zoom and pan (MONOCHROME1 shown inverted, as DICOM says), the occlusion saliency
 * overlay of a chosen finding with its opacity, and per-finding feedback stored with the user and
 * time. Keys: H overlay, + / − zoom, 0 fit, I invert, W window tool, P pan tool.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, apiBinary, fmtTime, shortUid, type Heatmap, type Me, type ModelCard, type StudyRecord } from './api.js';
import { defaultWindow, greyLut, heatColour, paint, samplesOf, type ImageInfo, type Window } from './render.js';

interface Loaded { info: ImageInfo; samples: Uint16Array }
interface View { scale: number; x: number; y: number }

function FeedbackForm({ studyUid, finding, score, threshold, positive, canGive, onSaved }: { studyUid: string; finding: string; score: number; threshold: number | undefined; positive: boolean | undefined; canGive: boolean; onSaved: () => void }) {
  const [verdict, setVerdict] = useState<'confirm' | 'reject' | ''>('');
  const [comment, setComment] = useState('');
  const [msg, setMsg] = useState('');
  const id = `fb-${finding.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const save = async (e: Event) => {
    e.preventDefault();
    if (!verdict) return setMsg('Choose agree or disagree.');
    try {
      await api('POST', `/v1/studies/${encodeURIComponent(studyUid)}/feedback`, { finding, verdict, ...(comment.trim() ? { comment: comment.trim() } : {}) });
      setMsg('Saved.');
      setComment('');
      setVerdict('');
      onSaved();
    } catch (err) {
      setMsg(`Not saved: ${(err as Error).message}`);
    }
  };
  return (
    <form class="feedback" onSubmit={save} data-testid={`feedback-${finding}`}>
      <fieldset disabled={!canGive}>
        <legend>
          <strong>{finding}</strong> {score.toFixed(3)}{threshold !== undefined && ` / ${threshold.toFixed(3)}`}
          {positive !== undefined && <span class="badge">{positive ? 'positive' : 'negative'}</span>}
        </legend>
        <div class="verdicts">
          <label><input type="radio" name={id} value="confirm" checked={verdict === 'confirm'} onChange={() => setVerdict('confirm')} /> Agree</label>
          <label><input type="radio" name={id} value="reject" checked={verdict === 'reject'} onChange={() => setVerdict('reject')} /> Disagree</label>
        </div>
        <label for={`${id}-c`}>Comment</label>
        <textarea id={`${id}-c`} rows={2} maxLength={2000} value={comment} onInput={(e) => setComment((e.target as HTMLTextAreaElement).value)} />
        <button type="submit">Save feedback</button>
      </fieldset>
      {msg && <p class="small" role="status">{msg}</p>}
    </form>
  );
}

export function Viewer({ me, studyUid }: { me: Me; studyUid: string }) {
  const [rec, setRec] = useState<StudyRecord | null>(null);
  const [error, setError] = useState('');
  const [sop, setSop] = useState('');
  const [modelKey, setModelKey] = useState('');
  const [card, setCard] = useState<ModelCard | null>(null);
  const [img, setImg] = useState<Loaded | null>(null);
  const [imgError, setImgError] = useState('');
  const [win, setWin] = useState<Window | null>(null);
  const [invert, setInvert] = useState(false);
  const [tool, setTool] = useState<'pan' | 'window'>('window');
  const [view, setView] = useState<View | null>(null);
  const [overlay, setOverlay] = useState(false);
  const [opacity, setOpacity] = useState(0.5);
  const [finding, setFinding] = useState('');
  const [heat, setHeat] = useState<Heatmap | null>(null);
  const [heatError, setHeatError] = useState('');
  const [tick, setTick] = useState(0);
  const canvas = useRef<HTMLCanvasElement>(null);
  const wrap = useRef<HTMLDivElement>(null);

  const load = () => api<StudyRecord>('GET', `/v1/studies/${encodeURIComponent(studyUid)}/predictions`).then((r) => {
    setRec(r);
    setSop((s) => s || r.predictions[0]?.sopUid || '');
    setModelKey((k) => k || (r.predictions[0] ? `${r.predictions[0].modelName}@${r.predictions[0].modelVersion}` : ''));
  }, (e: Error) => setError(e.message));
  useEffect(() => void load(), [studyUid, tick]);

  const [modelName, modelVersion] = modelKey ? [modelKey.slice(0, modelKey.lastIndexOf('@')), Number(modelKey.slice(modelKey.lastIndexOf('@') + 1))] : ['', 0];
  useEffect(() => {
    if (!modelName) return;
    api<ModelCard>('GET', `/v1/models/${encodeURIComponent(modelName)}/${modelVersion}`).then(setCard, () => setCard(null));
  }, [modelKey]);

  const preds = useMemo(() => (rec?.predictions ?? []).filter((p) => `${p.modelName}@${p.modelVersion}` === modelKey), [rec, modelKey]);
  const instances = useMemo(() => [...new Set((rec?.predictions ?? []).map((p) => p.sopUid))], [rec]);
  const models = useMemo(() => [...new Set((rec?.predictions ?? []).map((p) => `${p.modelName}@${p.modelVersion}`))], [rec]);
  const pred = preds.find((p) => p.sopUid === sop);
  const classes = pred ? Object.keys(pred.scores) : [];
  useEffect(() => {
    if (!pred) return;
    if (!finding || !(finding in pred.scores)) {
      const pos = Object.keys(pred.scores).find((c) => pred.decisions[c]);
      const top = Object.keys(pred.scores).sort((a, b) => pred.scores[b]! - pred.scores[a]!)[0];
      setFinding(pos ?? top ?? '');
    }
  }, [pred]);

  // Pixels of the selected instance.
  useEffect(() => {
    if (!sop) return;
    setImg(null);
    setImgError('');
    setHeat(null);
    apiBinary(`/v1/studies/${encodeURIComponent(studyUid)}/instances/${encodeURIComponent(sop)}/pixels`).then(({ body, headers }) => {
      const info = JSON.parse(headers.get('x-radml-image') ?? '{}') as ImageInfo;
      setImg({ info, samples: samplesOf(body) });
      setWin(defaultWindow(info));
      setView(null);
    }, (e: Error) => setImgError(e.message));
  }, [studyUid, sop]);

  // Heatmap of the chosen finding, fetched when the overlay is first shown.
  useEffect(() => {
    if (!overlay || !sop || !finding || !modelName) return;
    if (heat && heat.finding === finding) return;
    setHeatError('');
    const p = new URLSearchParams({ model: modelName, version: String(modelVersion), finding });
    api<Heatmap>('GET', `/v1/studies/${encodeURIComponent(studyUid)}/instances/${encodeURIComponent(sop)}/heatmap?${p}`).then(setHeat, (e: Error) => setHeatError(e.message));
  }, [overlay, sop, finding, modelKey]);

  // The windowed image and the heat map as off-screen canvases.
  const base = useMemo(() => {
    if (!img || !win) return null;
    const c = document.createElement('canvas');
    c.width = img.info.width;
    c.height = img.info.height;
    const ctx = c.getContext('2d')!;
    const data = ctx.createImageData(c.width, c.height);
    paint(img.samples, greyLut(img.info, win, invert), data.data);
    ctx.putImageData(data, 0, 0);
    return c;
  }, [img, win, invert]);
  const heatCanvas = useMemo(() => {
    if (!heat) return null;
    const c = document.createElement('canvas');
    c.width = heat.grid;
    c.height = heat.grid;
    const ctx = c.getContext('2d')!;
    const data = ctx.createImageData(heat.grid, heat.grid);
    const top = Math.max(...heat.values, 1e-12);
    heat.values.forEach((v, i) => data.data.set(heatColour(v / top), i * 4));
    ctx.putImageData(data, 0, 0);
    return c;
  }, [heat]);

  const fit = (): View | null => {
    const cv = canvas.current;
    if (!cv || !img) return null;
    const s = Math.min(cv.width / img.info.width, cv.height / img.info.height);
    return { scale: s, x: (cv.width - img.info.width * s) / 2, y: (cv.height - img.info.height * s) / 2 };
  };
  // Size the canvas to its box.
  useEffect(() => {
    const cv = canvas.current, w = wrap.current;
    if (!cv || !w) return;
    const size = () => {
      if (cv.width === Math.max(200, Math.floor(w.clientWidth)) && cv.height === Math.max(200, Math.floor(w.clientHeight))) return;
      cv.width = Math.max(200, Math.floor(w.clientWidth));
      cv.height = Math.max(200, Math.floor(w.clientHeight));
      setView(null); // fit again to the new box
    };
    size();
    const ro = new ResizeObserver(size);
    ro.observe(w);
    return () => ro.disconnect();
  }, [rec !== null]); // the canvas exists once the study record is in
  useEffect(() => {
    if (img && !view) setView(fit());
  }, [img, view]);

  // Draw.
  useEffect(() => {
    const cv = canvas.current;
    if (!cv) return;
    const ctx = cv.getContext('2d')!;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, cv.width, cv.height);
    if (!base || !view || !img) return;
    ctx.setTransform(view.scale, 0, 0, view.scale, view.x, view.y);
    ctx.imageSmoothingEnabled = view.scale < 1;
    ctx.drawImage(base, 0, 0);
    if (overlay && heatCanvas && heat) {
      const f = img.info.factor;
      ctx.save();
      ctx.beginPath();
      ctx.rect(0, 0, img.info.width, img.info.height);
      ctx.clip();
      ctx.globalAlpha = opacity;
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(heatCanvas, heat.region.x / f, heat.region.y / f, heat.region.width / f, heat.region.height / f);
      ctx.restore();
    }
    // The transform and a draw counter, for tests and tools that read the canvas back.
    cv.dataset.view = `${view.scale},${view.x},${view.y}`;
    cv.dataset.drawn = String(Number(cv.dataset.drawn ?? 0) + 1);
  }, [base, view, overlay, heatCanvas, opacity]);

  // Pointer: drag pans or windows; the wheel zooms about the cursor.
  const drag = useRef<{ x: number; y: number; view: View; win: Window; tool: 'pan' | 'window' } | null>(null);
  const onDown = (e: PointerEvent) => {
    if (!view || !win) return;
    (e.target as HTMLElement).setPointerCapture(e.pointerId);
    drag.current = { x: e.clientX, y: e.clientY, view, win, tool: e.shiftKey || e.button === 2 ? (tool === 'pan' ? 'window' : 'pan') : tool };
  };
  const onMove = (e: PointerEvent) => {
    const d = drag.current;
    if (!d || !img) return;
    const dx = e.clientX - d.x, dy = e.clientY - d.y;
    if (d.tool === 'pan') setView({ ...d.view, x: d.view.x + dx, y: d.view.y + dy });
    else {
      const range = Math.max(img.info.max - img.info.min, 1e-6);
      setWin({ center: d.win.center + (dy * range) / 400, width: Math.max(range / 1000, d.win.width + (dx * range) / 400) });
    }
  };
  const onUp = () => void (drag.current = null);
  const zoomBy = (k: number, cx?: number, cy?: number) => {
    const cv = canvas.current;
    if (!view || !cv) return;
    const px = cx ?? cv.width / 2, py = cy ?? cv.height / 2;
    const s = Math.min(64, Math.max(0.02, view.scale * k));
    const r = s / view.scale;
    setView({ scale: s, x: px - (px - view.x) * r, y: py - (py - view.y) * r });
  };
  const onWheel = (e: WheelEvent) => {
    e.preventDefault();
    const rect = (e.target as HTMLElement).getBoundingClientRect();
    zoomBy(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - rect.left, e.clientY - rect.top);
  };
  useEffect(() => {
    const on = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT') && (t as HTMLInputElement).type !== 'checkbox' && (t as HTMLInputElement).type !== 'range') return;
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const k = e.key.toLowerCase();
      if (k === 'h') setOverlay((o) => !o);
      else if (k === '+' || k === '=') zoomBy(1.25);
      else if (k === '-') zoomBy(1 / 1.25);
      else if (k === '0') setView(fit());
      else if (k === 'i') setInvert((v) => !v);
      else if (k === 'w') setTool('window');
      else if (k === 'p') setTool('pan');
      else return;
      e.preventDefault();
    };
    addEventListener('keydown', on);
    return () => removeEventListener('keydown', on);
  });

  if (error) return <section><h1>Study</h1><p class="error" role="alert">{error}</p></section>;
  if (!rec) return <section aria-busy="true"><h1>Study</h1><p>Loading…</p></section>;
  const thresholds = card?.operatingPoint.thresholds ?? {};
  const skipped = rec.skipped.filter((s) => `${s.modelName}@${s.modelVersion}` === modelKey || !modelKey);
  const num = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(4));
  return (
    <section class="viewer" aria-labelledby="v-title">
      <h1 id="v-title">Study <span class="uid" title={studyUid}>{shortUid(studyUid)}</span></h1>
      <p><a href="#/worklist">← Worklist</a></p>
      <div class="viewer-grid">
        <div class="viewer-main">
          <div class="toolbar" role="toolbar" aria-label="Image tools">
            <label>Image
              <select value={sop} onChange={(e) => setSop((e.target as HTMLSelectElement).value)}>
                {instances.map((s, i) => <option key={s} value={s}>{i + 1}: {shortUid(s)}</option>)}
              </select>
            </label>
            <span class="seg" role="group" aria-label="Drag tool">
              <button type="button" aria-pressed={tool === 'window'} onClick={() => setTool('window')} title="Drag to window (W)">Window</button>
              <button type="button" aria-pressed={tool === 'pan'} onClick={() => setTool('pan')} title="Drag to pan (P)">Pan</button>
            </span>
            <button type="button" onClick={() => zoomBy(1.25)} aria-label="Zoom in (+)">+</button>
            <button type="button" onClick={() => zoomBy(1 / 1.25)} aria-label="Zoom out (−)">−</button>
            <button type="button" onClick={() => { setView(fit()); if (img) setWin(defaultWindow(img.info)); }} title="Fit and stored window (0)">Reset</button>
            <label><input type="checkbox" checked={invert} onChange={() => setInvert(!invert)} /> Invert</label>
          </div>
          <div class="canvas-wrap" ref={wrap}>
            <canvas ref={canvas} data-testid="viewer-canvas" data-overlay={overlay && heat ? 'on' : 'off'} role="img"
              aria-label={img ? `${img.info.modality} image ${img.info.columns} × ${img.info.rows}${overlay ? ', saliency overlay shown' : ''}` : 'image loading'}
              onPointerDown={onDown} onPointerMove={onMove} onPointerUp={onUp} onWheel={onWheel} onContextMenu={(e) => e.preventDefault()} />
            {!img && !imgError && <p class="canvas-msg">Loading image…</p>}
            {imgError && <p class="canvas-msg error" role="alert">{imgError}</p>}
          </div>
          {img && win && (
            <p class="small imginfo" data-testid="imginfo">
              {img.info.modality} {img.info.columns}×{img.info.rows}{img.info.factor > 1 && ` (shown at 1/${img.info.factor})`} · {img.info.photometric}
              {' '}· window C {num(win.center)} W {num(win.width)} · zoom {view ? (view.scale * img.info.factor * 100).toFixed(0) : '–'}%
            </p>
          )}
          <p class="small muted">Keys: H overlay · + / − zoom · 0 fit · I invert · W window · P pan. Shift-drag uses the other tool.</p>
        </div>
        <aside class="viewer-side" aria-label="Findings and feedback">
          <h2>Model</h2>
          <label>Model version
            <select value={modelKey} onChange={(e) => { setModelKey((e.target as HTMLSelectElement).value); setHeat(null); }}>
              {models.map((m) => <option key={m} value={m}>{m.replace('@', ' v')}</option>)}
            </select>
          </label>
          <h2>Saliency</h2>
          <div class="overlay-ctl">
            <label><input type="checkbox" data-testid="overlay-toggle" checked={overlay} onChange={() => setOverlay(!overlay)} /> Show overlay (H)</label>
            <label>Finding
              <select id="v-finding" value={finding} onChange={(e) => setFinding((e.target as HTMLSelectElement).value)}>
                {classes.map((c) => <option key={c} value={c}>{c}</option>)}
              </select>
            </label>
            <label>Method <select disabled><option>occlusion</option></select></label>
            <label>Opacity <input type="range" min={0} max={1} step={0.05} value={opacity} onInput={(e) => setOpacity(Number((e.target as HTMLInputElement).value))} /></label>
            {overlay && !heat && !heatError && <p class="small">Computing the heatmap…</p>}
            {heatError && <p class="small error" role="alert">{heatError}</p>}
          </div>
          <h2>Findings</h2>
          {!pred && <p class="muted">This image was not scored by this model version.</p>}
          {pred && classes.map((c) => (
            <FeedbackForm key={`${sop}/${c}`} studyUid={studyUid} finding={c} score={pred.scores[c]!} threshold={thresholds[c]} positive={pred.decisions[c]}
              canGive={me.role === 'radiologist'} onSaved={() => setTick((t) => t + 1)} />
          ))}
          {me.role !== 'radiologist' && <p class="small muted">Only radiologists give feedback.</p>}
          {skipped.length > 0 && (<>
            <h2>Refused images</h2>
            <ul class="small">{skipped.map((s) => <li key={s.sopUid}>{s.reason}</li>)}</ul>
          </>)}
          <h2>Feedback given</h2>
          {rec.feedback.length === 0 ? <p class="muted">None yet.</p> : (
            <ul class="small" data-testid="feedback-list">
              {rec.feedback.map((f) => <li key={f.id}><strong>{f.finding}</strong>: {f.verdict === 'confirm' ? 'agree' : 'disagree'} — {f.user}, {fmtTime(f.createdAt)}{f.comment && <>: “{f.comment}”</>}</li>)}
            </ul>
          )}
        </aside>
      </div>
    </section>
  );
}
