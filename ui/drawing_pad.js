// The Draw page's pad: white ink on black, sent to Python as a PNG the moment the pen lifts.
const pads = new WeakMap();

function mount(root) {
  const box = document.createElement("div");
  box.className = "pad";
  const canvas = document.createElement("canvas");
  canvas.setAttribute("aria-label", "Drawing pad");
  const tools = document.createElement("div");
  tools.className = "tools";
  const undo = button("Undo", "Take back the last stroke");
  const clear = button("Clear", "Wipe the pad");
  tools.append(undo, clear);
  box.append(canvas, tools);
  const pad = { box, canvas, ctx: canvas.getContext("2d"), strokes: [], current: null, data: {}, send: null };

  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height];
  };
  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0 && e.pointerType === "mouse") return;
    canvas.setPointerCapture(e.pointerId);
    pad.current = { width: pad.data.width || 18, points: [at(e)] };
    paint(pad, pad.current);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!pad.current) return;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const one of events.length ? events : [e]) pad.current.points.push(at(one));
    paint(pad, pad.current, 2 + events.length);
  });
  const lift = () => {
    if (!pad.current) return;
    pad.strokes.push(pad.current);
    pad.current = null;
    report(pad);
  };
  canvas.addEventListener("pointerup", lift);
  canvas.addEventListener("pointercancel", lift);
  undo.addEventListener("click", () => {
    pad.strokes.pop();
    redraw(pad);
    report(pad);
  });
  clear.addEventListener("click", () => {
    pad.strokes = [];
    redraw(pad);
    report(pad);
  });
  root.appendChild(box);
  return pad;
}

function button(text, title) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.title = title;
  return b;
}

function resize(pad, size) {
  if (pad.canvas.width === size) return;
  pad.canvas.width = pad.canvas.height = size;
  pad.canvas.style.width = pad.canvas.style.height = `${size}px`;
  redraw(pad);
}

function redraw(pad) {
  const { ctx, canvas } = pad;
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (const stroke of pad.strokes) paint(pad, stroke);
}

// Draws the stroke's last `tail` points (all of them by default) as one round-capped path.
function paint(pad, stroke, tail = Infinity) {
  const { ctx } = pad;
  const points = stroke.points.slice(-Math.min(tail, stroke.points.length));
  ctx.strokeStyle = ctx.fillStyle = "#fff";
  ctx.lineWidth = stroke.width;
  ctx.lineCap = ctx.lineJoin = "round";
  if (points.length === 1) {
    ctx.beginPath();
    ctx.arc(points[0][0], points[0][1], stroke.width / 2, 0, 2 * Math.PI);
    ctx.fill();
    return;
  }
  ctx.beginPath();
  ctx.moveTo(points[0][0], points[0][1]);
  for (const [x, y] of points.slice(1)) ctx.lineTo(x, y);
  ctx.stroke();
}

function report(pad) {
  const png = pad.strokes.length ? pad.canvas.toDataURL("image/png") : null;
  pad.send?.("drawing", { png, strokes: pad.strokes.length });
}

// A digit key labels the drawing on the pad, unless the key is typed into a field (the sidebar's numbers).
function onKey(pad, e) {
  if (!/^[0-9]$/.test(e.key) || e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
  const target = e.composedPath()[0] || e.target;
  if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
  if (!pad.strokes.length || !pad.box.isConnected) return;
  pad.trigger?.("label", Number(e.key));
}

export default function (component) {
  const { data, parentElement, setStateValue, setTriggerValue } = component;
  const root = parentElement.querySelector(".pad-root") || parentElement;
  let pad = pads.get(parentElement);
  if (!pad) {
    pad = mount(root);
    pad.keys = (e) => onKey(pad, e);
    document.addEventListener("keydown", pad.keys);
    pads.set(parentElement, pad);
  } else if (!root.contains(pad.box)) {
    root.appendChild(pad.box);
  }
  pad.data = data || {};
  pad.send = setStateValue;
  pad.trigger = setTriggerValue;
  resize(pad, pad.data.size || 280);
  return () => {
    document.removeEventListener("keydown", pad.keys);
    pads.delete(parentElement);
  };
}
