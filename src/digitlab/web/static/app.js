// Draw-a-digit page: pointer drawing, debounced live prediction, upload, and "that's wrong".
"use strict";

const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const seen = document.getElementById("seen").getContext("2d");
const guess = document.getElementById("guess");
const confidence = document.getElementById("confidence");
const bars = document.getElementById("bars");
const feedback = document.getElementById("feedback");
const picker = document.getElementById("picker");
const thanks = document.getElementById("thanks");
const why = document.getElementById("why");
const eraseBox = document.getElementById("erase");
const erasedLine = document.getElementById("erased");

const DEBOUNCE_MS = 120; // wait this long after the last stroke change before asking again
const EXPLAIN_MS = 250; // "why?" is asked only once the drawing has rested this long after an answer
let explainTimer = null, explainSeq = 0, lastInput = null, lastWhy = null;
let drawing = false, last = null, dirty = false, inFlight = false, timer = null, hasInk = false;
let saveEnabled = false;
let classNames = []; // the model's classes (/api/model): the digits' numbers, or names such as "cat"
let prompt = "draw a digit"; // a model of named classes: "draw or drop an image"

// A class in an answer: named models say `label` and `index`, digit models `digit` (and both).
const indexOf = (o) => (o.index !== undefined ? o.index : o.digit);
const labelOf = (o) => (o.label !== undefined ? o.label : String(o.digit));
const nameOf = (i) => (i < classNames.length ? classNames[i] : String(i));

function resetPad() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  hasInk = false;
}

function point(event) {
  const box = pad.getBoundingClientRect();
  const scale = pad.width / box.width;
  const pressure = event.pointerType === "pen" && event.pressure > 0 ? event.pressure : 0.5;
  return { x: (event.clientX - box.left) * scale, y: (event.clientY - box.top) * scale, pressure };
}

function stroke(from, to) {
  // a round pen whose width follows pen pressure; mouse and touch draw at the middle width
  ctx.strokeStyle = "#111";
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.lineWidth = 10 + 16 * to.pressure;
  ctx.beginPath();
  ctx.moveTo(from.x, from.y);
  ctx.quadraticCurveTo(from.x, from.y, (from.x + to.x) / 2, (from.y + to.y) / 2);
  ctx.lineTo(to.x, to.y);
  ctx.stroke();
  hasInk = true;
}

pad.addEventListener("pointerdown", (e) => {
  e.preventDefault();
  pad.setPointerCapture(e.pointerId);
  drawing = true;
  last = point(e);
  stroke(last, last);
  schedule();
});
pad.addEventListener("pointermove", (e) => {
  if (!drawing) return;
  const p = point(e);
  stroke(last, p);
  last = p;
  schedule();
});
for (const type of ["pointerup", "pointercancel", "pointerleave"]) {
  pad.addEventListener(type, () => { if (drawing) { drawing = false; schedule(0); } });
}

function schedule(delay = DEBOUNCE_MS) {
  dirty = true;
  clearTimeout(timer);
  timer = setTimeout(sendCanvas, delay);
}

function sendCanvas() {
  if (inFlight) return; // the answer in flight will trigger one more request
  if (!hasInk) { showEmpty(); dirty = false; return; }
  dirty = false;
  pad.toBlob((blob) => send(blob, "drawing.png"), "image/png");
}

async function send(blob, name) {
  inFlight = true;
  const form = new FormData();
  form.append("file", blob, name);
  try {
    const response = await fetch("/api/predict?include=input", { method: "POST", body: form });
    if (response.status === 503) {  // busy: ask again when the server says to, not at once
      const seconds = Number(response.headers.get("Retry-After")) || 1;
      setTimeout(() => send(blob, name), seconds * 1000);
      return;
    }
    const body = await response.json();
    if (!response.ok) throw new Error(body.detail || response.statusText);
    show(body);
  } catch (err) {
    showEmpty(String(err.message || err));
  } finally {
    inFlight = false;
    if (dirty) sendCanvas();
  }
}

function show(result) {
  drawSeen(result.input);
  const top = indexOf(result);
  if (top === null) { showEmpty(); return; }
  guess.textContent = labelOf(result); // a name is text, never markup
  guess.classList.remove("empty");
  guess.dataset.digit = String(top);
  confidence.textContent = `${(result.confidence * 100).toFixed(1)}% sure`;
  bars.innerHTML = "";
  result.probs.forEach((p, d) => {
    const li = document.createElement("li");
    li.dataset.p = String(p);
    if (d === top) li.className = "top";
    li.innerHTML = `<span></span><span class="track"><span class="fill"></span></span>` +
                   `<span class="pct">${(p * 100).toFixed(1)}%</span>`;
    li.firstChild.textContent = nameOf(d);
    li.querySelector(".fill").style.width = `${p * 100}%`;
    bars.appendChild(li);
  });
  feedback.hidden = !saveEnabled;
  lastInput = result.input;
  lastWhy = null; // the panel's maps stay until the new ones come, but erasing waits for them
  scheduleExplain(result.input);
}

// The "why?" panel: asked after the prediction is shown, so it never delays it; a stale answer
// (the drawing changed meanwhile) is dropped.
function scheduleExplain(input) {
  clearTimeout(explainTimer);
  const seq = ++explainSeq;
  explainTimer = setTimeout(async () => {
    try {
      const response = await fetch("/api/explain", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ pixels: input }),
      });
      if (!response.ok || seq !== explainSeq) return; // busy (503) or stale: the next drawing asks again
      const body = await response.json();
      if (seq === explainSeq && indexOf(body) !== null) showWhy(body);
    } catch (err) { /* the panel is extra: the prediction above stands */ }
  }, EXPLAIN_MS);
}

function showWhy(body) {
  lastWhy = body;
  const [top, next] = body.top;
  drawMap("why-top", body.attribution[labelOf(top)], `why ${labelOf(top)} (${(top.probability * 100).toFixed(1)}%)`);
  drawMap("why-next", body.attribution[labelOf(next)], `why ${labelOf(next)} (${(next.probability * 100).toFixed(1)}%)`);
  document.getElementById("method").textContent = body.method;
  why.hidden = false;
  showErased();
}

// Rows of pixels (28x28 for MNIST; a model of another size sends its own) painted on a canvas of
// that size, each pixel's colour from colour(value, row, column).
function paint(canvas, height, width, colour) {
  canvas.width = width;
  canvas.height = height;
  const image = canvas.getContext("2d").createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    image.data.set(colour(Math.floor(i / width), i % width), i * 4);
  }
  canvas.getContext("2d").putImageData(image, 0, 0);
}

function drawMap(id, rows, label) {
  const canvas = document.getElementById(id);
  const limit = Math.max(1e-12, ...rows.map((r) => Math.max(...r.map(Math.abs))));
  paint(canvas, rows.length, rows[0].length, (y, x) => {
    const v = Math.max(-1, Math.min(1, rows[y][x] / limit));
    const rgb = v > 0 ? [255, 255 * (1 - v), 255 * (1 - v)] : [255 * (1 + v), 255 * (1 + v), 255];
    return [...rgb, 255];
  });
  canvas.setAttribute("aria-label", `${label}: red pixels pushed towards it, blue away (scale ±${limit.toPrecision(2)})`);
  document.getElementById(`${id}-label`).textContent = `${label}, ±${limit.toPrecision(2)}`;
}

function showErased() {
  if (!lastWhy || !lastInput) return;
  if (!eraseBox.checked) { erasedLine.textContent = ""; drawSeen(lastInput); return; }
  const e = lastWhy.erased;
  paint(seen.canvas, lastInput.length, lastInput[0].length, (y, x) => {
    const before = lastInput[y][x], after = lastWhy.erased_input[y][x];
    return before !== after ? [150, 150, 150, 255] : [after, after, after, 255];
  });
  erasedLine.textContent = `without the ${e.pixels} grey pixels it says ${labelOf(e)} (${(e.probability * 100).toFixed(1)}%)`;
  erasedLine.dataset.digit = String(indexOf(e));
}
eraseBox.addEventListener("change", showErased);

function showEmpty(message) {
  guess.textContent = message ? `error: ${message}` : prompt;
  guess.classList.add("empty");
  delete guess.dataset.digit;
  confidence.textContent = "";
  bars.innerHTML = "";
  feedback.hidden = true;
  why.hidden = true;
  lastWhy = null;
  explainSeq++; // an explanation still on its way is for a drawing that is gone
  if (!hasInk) drawSeen(null);
}

function drawSeen(pixels) {
  const height = pixels ? pixels.length : seen.canvas.height, width = pixels ? pixels[0].length : seen.canvas.width;
  paint(seen.canvas, height, width, (y, x) => {
    const v = pixels ? pixels[y][x] : 0;
    return [v, v, v, 255];
  });
}

document.getElementById("clear").addEventListener("click", () => {
  resetPad();
  showEmpty();
  thanks.textContent = "";
});

function loadFile(file) {
  if (!file) return;
  const url = URL.createObjectURL(file);
  const img = new Image();
  img.onload = () => {
    resetPad();
    const s = Math.min(pad.width / img.width, pad.height / img.height);
    ctx.drawImage(img, (pad.width - img.width * s) / 2, (pad.height - img.height * s) / 2,
                  img.width * s, img.height * s);
    hasInk = true;
    URL.revokeObjectURL(url);
  };
  img.src = url;
  send(file, file.name); // the original file, not the canvas copy: full resolution
}
document.getElementById("file").addEventListener("change", (e) => loadFile(e.target.files[0]));
pad.addEventListener("dragover", (e) => { e.preventDefault(); pad.classList.add("dragging"); });
pad.addEventListener("dragleave", () => pad.classList.remove("dragging"));
pad.addEventListener("drop", (e) => {
  e.preventDefault();
  pad.classList.remove("dragging");
  loadFile(e.dataTransfer.files[0]);
});

document.getElementById("wrong").addEventListener("click", () => {
  picker.hidden = !picker.hidden;
});
function addPickerButton(d) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = nameOf(d);
  b.addEventListener("click", () => pad.toBlob(async (blob) => {
    const form = new FormData();
    form.append("digit", String(d));
    form.append("file", blob, "drawing.png");
    const response = await fetch("/api/samples", { method: "POST", body: form });
    thanks.textContent = response.ok ? `saved as a ${nameOf(d)}, thank you` : "could not save";
    picker.hidden = true;
  }, "image/png"));
  picker.appendChild(b);
}
// One button a class, named as the model names it: the ten digits, or the model's own classes.
fetch("/api/model").then((r) => r.json()).then((m) => {
  classNames = (m.classes || []).map(String);
  if ((m.classes || []).some((c) => typeof c === "string")) {
    prompt = "draw or drop an image";
    document.querySelector("h1").textContent = "Draw or drop an image";
    if (guess.classList.contains("empty") && !guess.textContent.startsWith("error")) guess.textContent = prompt;
  }
  for (let d = 0; d < classNames.length; d++) addPickerButton(d);
});

fetch("/api/health").then((r) => r.json()).then((h) => { saveEnabled = h.save_enabled; });
resetPad();
showEmpty();
