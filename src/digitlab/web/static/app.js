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

const DEBOUNCE_MS = 120; // wait this long after the last stroke change before asking again
let drawing = false, last = null, dirty = false, inFlight = false, timer = null, hasInk = false;
let saveEnabled = false;

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
    const response = await fetch("/api/predict", { method: "POST", body: form });
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
  if (result.digit === null) { showEmpty(); return; }
  guess.textContent = String(result.digit);
  guess.classList.remove("empty");
  guess.dataset.digit = String(result.digit);
  confidence.textContent = `${(result.confidence * 100).toFixed(1)}% sure`;
  bars.innerHTML = "";
  result.probs.forEach((p, d) => {
    const li = document.createElement("li");
    li.dataset.p = String(p);
    if (d === result.digit) li.className = "top";
    li.innerHTML = `<span>${d}</span><span class="track"><span class="fill"></span></span>` +
                   `<span class="pct">${(p * 100).toFixed(1)}%</span>`;
    li.querySelector(".fill").style.width = `${p * 100}%`;
    bars.appendChild(li);
  });
  feedback.hidden = !saveEnabled;
}

function showEmpty(message) {
  guess.textContent = message ? `error: ${message}` : "draw a digit";
  guess.classList.add("empty");
  delete guess.dataset.digit;
  confidence.textContent = "";
  bars.innerHTML = "";
  feedback.hidden = true;
  if (!hasInk) drawSeen(null);
}

function drawSeen(pixels) {
  const image = seen.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = pixels ? pixels[Math.floor(i / 28)][i % 28] : 0;
    image.data.set([v, v, v, 255], i * 4);
  }
  seen.putImageData(image, 0, 0);
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
for (let d = 0; d < 10; d++) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = String(d);
  b.addEventListener("click", () => pad.toBlob(async (blob) => {
    const form = new FormData();
    form.append("digit", String(d));
    form.append("file", blob, "drawing.png");
    const response = await fetch("/api/samples", { method: "POST", body: form });
    thanks.textContent = response.ok ? `saved as a ${d}, thank you` : "could not save";
    picker.hidden = true;
  }, "image/png"));
  picker.appendChild(b);
}

fetch("/api/health").then((r) => r.json()).then((h) => { saveEnabled = h.save_enabled; });
resetPad();
showEmpty();
